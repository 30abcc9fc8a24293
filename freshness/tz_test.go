package freshness

// The DST tests need Europe/Paris and America/New_York whatever the machine
// has in /usr/share/zoneinfo; embedding the database in the test binary
// makes them hermetic. (The freshet binary decides for itself in cmd/.)
import _ "time/tzdata"
