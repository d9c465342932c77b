module goforensics.test/checkleak

go 1.25
