module goforensics.test/ctxleak

go 1.21
