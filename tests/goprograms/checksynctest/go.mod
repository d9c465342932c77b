module goforensics.test/checksynctest

go 1.25
