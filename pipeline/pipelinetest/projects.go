package pipelinetest

import "github.com/ferrybot/ferry/pipeline"

// Projects is a fixed list of projects for what reads ferry's projects at
// each use (*config.Live and *pipeline.Engine in ferry itself).
type Projects []pipeline.Project

// Projects returns the list.
func (p Projects) Projects() []pipeline.Project { return p }
