package fakedingtalk

import (
	"maps"
	"net/http"
	"strings"
	"time"
)

// Card is an interactive card created with createAndDeliver, as it stands
// now.
type Card struct {
	OutTrackID   string
	TemplateID   string
	Space        string // the openSpaceId, e.g. "dtv1.card//IM_GROUP.cid…"
	CallbackType string // STREAM, HTTP or ""
	RobotCode    string // imGroupOpenDeliverModel.robotCode
	Data         map[string]string
	// Private is the private data by user ID.
	Private map[string]map[string]string
	// AtUsers are the users the card @s, user ID → nick.
	AtUsers          map[string]string
	Updates          int // PUT /v1.0/card/instances calls
	Created, Updated time.Time
}

func (c *Card) clone() Card {
	out := *c
	out.Data = maps.Clone(c.Data)
	out.AtUsers = maps.Clone(c.AtUsers)
	out.Private = make(map[string]map[string]string, len(c.Private))
	for u, d := range c.Private {
		out.Private[u] = maps.Clone(d)
	}
	return out
}

// Cards returns a copy of the cards created, by outTrackId.
func (s *Server) Cards() map[string]Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Card, len(s.cards))
	for id, c := range s.cards {
		out[id] = c.clone()
	}
	return out
}

// Card returns a copy of the card with outTrackID, if it was created.
func (s *Server) Card(outTrackID string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[outTrackID]
	if !ok {
		return Card{}, false
	}
	return c.clone(), true
}

type cardData struct {
	CardParamMap map[string]string `json:"cardParamMap"`
}

// spaceTypes are the kinds of open spaces a card can be delivered to.
var spaceTypes = map[string]bool{"IM_GROUP": true, "IM_ROBOT": true, "IM_SINGLE": true, "ONE_BOX": true, "COOPERATION_FEED": true, "TOP_CARD": true}

// createAndDeliver serves POST /v1.0/card/instances/createAndDeliver.
func (s *Server) createAndDeliver(_ *http.Request, body []byte, now time.Time) (int, any) {
	var b struct {
		CardTemplateID string              `json:"cardTemplateId"`
		OutTrackID     string              `json:"outTrackId"`
		OpenSpaceID    string              `json:"openSpaceId"`
		CallbackType   string              `json:"callbackType"`
		CardData       *cardData           `json:"cardData"`
		PrivateData    map[string]cardData `json:"privateData"`
		GroupDeliver   *struct {
			RobotCode string            `json:"robotCode"`
			AtUserIDs map[string]string `json:"atUserIds"`
		} `json:"imGroupOpenDeliverModel"`
		UserIDType int `json:"userIdType"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不合法: " + err.Error())
	}
	switch {
	case b.CardTemplateID == "":
		return badParam("cardTemplateId不能为空")
	case b.OutTrackID == "":
		return badParam("outTrackId不能为空")
	case b.OpenSpaceID == "":
		return badParam("openSpaceId不能为空")
	case b.CallbackType != "" && b.CallbackType != "STREAM" && b.CallbackType != "HTTP":
		return badParam("callbackType只能是STREAM或HTTP")
	}
	spaces, ok := strings.CutPrefix(b.OpenSpaceID, "dtv1.card//")
	if !ok {
		return badParam("openSpaceId不合法: " + b.OpenSpaceID)
	}
	var results []obj
	for sp := range strings.SplitSeq(spaces, ";") {
		typ, id, ok := strings.Cut(sp, ".")
		if !ok || id == "" || !spaceTypes[typ] {
			return badParam("openSpaceId不合法: " + b.OpenSpaceID)
		}
		if typ == "IM_GROUP" && b.GroupDeliver == nil {
			return badParam("投放到IM_GROUP时imGroupOpenDeliverModel不能为空")
		}
		results = append(results, obj{"spaceType": typ, "spaceId": id, "success": true, "carrierId": randomHex(12)})
	}
	if _, dup := s.cards[b.OutTrackID]; dup {
		return http.StatusBadRequest, apiError("param.outTrackIdExist", "outTrackId已存在")
	}
	c := &Card{
		OutTrackID: b.OutTrackID, TemplateID: b.CardTemplateID, Space: b.OpenSpaceID, CallbackType: b.CallbackType,
		Data: map[string]string{}, Private: map[string]map[string]string{}, AtUsers: map[string]string{},
		Created: now, Updated: now,
	}
	if b.CardData != nil {
		maps.Copy(c.Data, b.CardData.CardParamMap)
	}
	for u, d := range b.PrivateData {
		c.Private[u] = maps.Clone(d.CardParamMap)
	}
	if b.GroupDeliver != nil {
		c.RobotCode = b.GroupDeliver.RobotCode
		maps.Copy(c.AtUsers, b.GroupDeliver.AtUserIDs)
	}
	s.cards[b.OutTrackID] = c
	return http.StatusOK, obj{"success": true, "result": obj{"outTrackId": b.OutTrackID, "deliverResults": results}}
}

// updateCard serves PUT /v1.0/card/instances: with updateCardDataByKey the
// keys given are merged into the card's data, else the data given replaces
// it; the same for each user's private data with updatePrivateDataByKey.
func (s *Server) updateCard(_ *http.Request, body []byte, now time.Time) (int, any) {
	var b struct {
		OutTrackID  string              `json:"outTrackId"`
		CardData    *cardData           `json:"cardData"`
		PrivateData map[string]cardData `json:"privateData"`
		Options     struct {
			ByKey        bool `json:"updateCardDataByKey"`
			PrivateByKey bool `json:"updatePrivateDataByKey"`
		} `json:"cardUpdateOptions"`
		UserIDType int `json:"userIdType"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不合法: " + err.Error())
	}
	if b.OutTrackID == "" {
		return badParam("outTrackId不能为空")
	}
	c, ok := s.cards[b.OutTrackID]
	if !ok {
		return http.StatusBadRequest, apiError("card.notExist", "卡片不存在")
	}
	if b.CardData != nil {
		if !b.Options.ByKey {
			c.Data = map[string]string{}
		}
		maps.Copy(c.Data, b.CardData.CardParamMap)
	}
	for u, d := range b.PrivateData {
		if c.Private[u] == nil || !b.Options.PrivateByKey {
			c.Private[u] = map[string]string{}
		}
		maps.Copy(c.Private[u], d.CardParamMap)
	}
	c.Updates++
	c.Updated = now
	return http.StatusOK, obj{"success": true, "result": true}
}
