package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

// FuzzHTTPIngress posts bodies to /chat/dingtalk. Whatever the body, a
// request without a valid sign is refused with 401 and stores nothing; a
// signed one is answered 200, stored under its msgId, or 400 when it is
// neither a robot message nor a card callback.
func FuzzHTTPIngress(f *testing.F) {
	fx := newFixture(f, setup{mode: ModeHTTP})
	f.Add(fixtureFile(f, "robot_callback.text.json"))
	f.Add(fixtureFile(f, "robot_callback.richText.json"))
	f.Add([]byte(`{"outTrackId":"ferry-1-1","userId":"0420297","content":"{}"}`))
	f.Add([]byte(`{"msgId":""}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var probe struct {
			MsgID string `json:"msgId"`
		}
		_ = json.Unmarshal(body, &probe)
		stored := func() bool {
			_, err := fx.store.DeliveryOf(context.Background(), platform, "msg:"+probe.MsgID)
			return !errors.Is(err, pipeline.ErrNotFound)
		}
		before := probe.MsgID != "" && stored()
		if res := fx.postAs(t, body, "sign", "AAAA"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a bad sign: %d", res.StatusCode)
		}
		if probe.MsgID != "" && !before && stored() {
			t.Fatal("an unsigned body was stored")
		}
		res := fx.postAs(t, body)
		switch res.StatusCode {
		case http.StatusOK:
			if probe.MsgID != "" && !stored() {
				t.Fatal("acknowledged and not stored")
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("a signed body: %d", res.StatusCode)
		}
	})
}
