package bot

import (
	"cmp"
	"slices"

	"github.com/ferrybot/ferry/pipeline"
)

// UnitGroup is the units of an environment that run one version.
type UnitGroup struct {
	Version string
	Units   []string
}

// UnitGroups groups units by the version they run, newest deploy first, so
// a canary reads as "v1.1.0: web1 · v1.0.0: web2, web3".
func UnitGroups(units []pipeline.UnitRelease) []UnitGroup {
	var groups []UnitGroup
	latest := map[string]int64{}
	for _, u := range units {
		i := slices.IndexFunc(groups, func(g UnitGroup) bool { return g.Version == u.Version })
		if i < 0 {
			groups = append(groups, UnitGroup{Version: u.Version})
			i = len(groups) - 1
		}
		groups[i].Units = append(groups[i].Units, u.Unit)
		latest[u.Version] = max(latest[u.Version], u.DeployID)
	}
	slices.SortStableFunc(groups, func(a, b UnitGroup) int { return cmp.Compare(latest[b.Version], latest[a.Version]) })
	return groups
}
