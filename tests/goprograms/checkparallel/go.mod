module goforensics.test/checkparallel

go 1.25

require goforensics.test/leakcheck v0.0.0

replace goforensics.test/leakcheck => ../leakcheck
