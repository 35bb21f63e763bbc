package main
import (
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/common/promslog"
 _ "github.com/prometheus/exporter-toolkit/web"
 _ "github.com/alecthomas/kingpin/v2"
 _ "github.com/robfig/cron/v3"
 _ "github.com/parquet-go/parquet-go"
 _ "gopkg.in/yaml.v3"
 _ "github.com/duckdb/duckdb-go/v2"
 _ "github.com/grafana/grafana-foundation-sdk/go/dashboard"
 _ "github.com/jackc/pgx/v5"
 _ "github.com/go-sql-driver/mysql"
)
func main(){}
