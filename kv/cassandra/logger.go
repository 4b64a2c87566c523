package cassandra

import (
	"context"
	"log/slog"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// slogLogger passes the driver's structured log lines to a *slog.Logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) log(level slog.Level, msg string, fields []gocql.LogField) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(fields)+1)
	attrs = append(attrs, slog.String("component", "gocql"))
	for _, f := range fields {
		attrs = append(attrs, slog.Any(f.Name, f.Value.Any()))
	}
	s.l.LogAttrs(ctx, level, msg, attrs...)
}

func (s slogLogger) Error(msg string, fields ...gocql.LogField)   { s.log(slog.LevelError, msg, fields) }
func (s slogLogger) Warning(msg string, fields ...gocql.LogField) { s.log(slog.LevelWarn, msg, fields) }
func (s slogLogger) Info(msg string, fields ...gocql.LogField)    { s.log(slog.LevelInfo, msg, fields) }
func (s slogLogger) Debug(msg string, fields ...gocql.LogField)   { s.log(slog.LevelDebug, msg, fields) }
