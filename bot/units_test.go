package bot

import (
	"fmt"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestUnitGroupsShowACanary(t *testing.T) {
	units := []pipeline.UnitRelease{
		{Unit: "p1", Version: "v1.1.0", DeployID: 3},
		{Unit: "p2", Version: "v1.0.0", DeployID: 2},
		{Unit: "p3", Version: "v1.0.0", DeployID: 2},
		{Unit: "p4", Version: "", DeployID: 1},
	}
	got := fmt.Sprint(UnitGroups(units))
	if want := "[{v1.1.0 [p1]} {v1.0.0 [p2 p3]} { [p4]}]"; got != want {
		t.Errorf("unitGroups = %s, want %s", got, want)
	}
}
