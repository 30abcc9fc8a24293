// How the tests start Debian's Chromium: no sandbox (CI runs as root), and
// no background connections to Google's hosts (the machine's network is
// closed; without these flags Chromium keeps trying).
export const chromiumArgs = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];
