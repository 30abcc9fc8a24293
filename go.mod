module github.com/freshet-dev/freshet

go 1.26
