module goforensics.test/checkparallel

go 1.25
