package watermill_test

import (
	"io"
	"log/slog"
	"os"

	wm "github.com/ThreeDotsLabs/watermill"
)

// logger is silent unless BOURSE_TEST_LOG is set.
func logger() wm.LoggerAdapter {
	if os.Getenv("BOURSE_TEST_LOG") == "" {
		return wm.NopLogger{}
	}
	return wm.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func slogger() *slog.Logger {
	if os.Getenv("BOURSE_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
