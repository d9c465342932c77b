module goforensics.test/leakcheck

go 1.25
