package storage

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// strategyJSON is how deploys.strategy stores a pipeline.Strategy: batch
// sizes and the bake as ferry.yaml writes them, so that the column reads
// the same to a person and does not change with pipeline's field names.
type strategyJSON struct {
	Batches        []string `json:"batches"` // "1", "50%"
	Bake           string   `json:"bake,omitempty"`
	Continue       string   `json:"continue,omitempty"`
	MaxFailedUnits int      `json:"max_failed_units,omitempty"`
	AutoRollback   bool     `json:"auto_rollback,omitempty"`
	Parallel       int      `json:"parallel,omitempty"`
}

// strategyColumn stores a deploy's strategy: nil as the empty text.
type strategyColumn struct{ s **pipeline.Strategy }

// Value implements driver.Valuer.
func (c strategyColumn) Value() (driver.Value, error) {
	s := *c.s
	if s == nil {
		return "", nil
	}
	j := strategyJSON{Continue: s.Continue, MaxFailedUnits: s.MaxFailedUnits, AutoRollback: s.AutoRollback, Parallel: s.Parallel}
	for _, b := range s.Batches {
		j.Batches = append(j.Batches, b.String())
	}
	if s.Bake != 0 {
		j.Bake = s.Bake.String()
	}
	b, err := json.Marshal(j)
	return string(b), err
}

// Scan implements sql.Scanner.
func (c strategyColumn) Scan(src any) error {
	text, ok := src.(string)
	if !ok {
		return fmt.Errorf("scan strategy: want text, got %T", src)
	}
	if text == "" {
		*c.s = nil
		return nil
	}
	var j strategyJSON
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		return fmt.Errorf("scan strategy: %w", err)
	}
	s := &pipeline.Strategy{Continue: j.Continue, MaxFailedUnits: j.MaxFailedUnits, AutoRollback: j.AutoRollback, Parallel: j.Parallel}
	for _, b := range j.Batches {
		var size pipeline.BatchSize
		var err error
		if pct, ok := strings.CutSuffix(b, "%"); ok {
			size.Percent, err = strconv.ParseFloat(pct, 64)
		} else {
			size.Count, err = strconv.Atoi(b)
		}
		if err != nil {
			return fmt.Errorf("scan strategy: batch %q: %w", b, err)
		}
		s.Batches = append(s.Batches, size)
	}
	if j.Bake != "" {
		d, err := time.ParseDuration(j.Bake)
		if err != nil {
			return fmt.Errorf("scan strategy: bake %q: %w", j.Bake, err)
		}
		s.Bake = d
	}
	*c.s = s
	return nil
}
