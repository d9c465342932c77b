module bigdump

go 1.27
