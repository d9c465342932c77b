module markup

go 1.27
