module leakserver

go 1.27
