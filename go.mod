module github.com/keepalived-go/keepalived-go

go 1.26.8
