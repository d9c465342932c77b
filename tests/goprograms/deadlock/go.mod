module goforensics.test/deadlock

go 1.21
