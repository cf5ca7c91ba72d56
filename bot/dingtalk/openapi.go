package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// DefaultAPIURL is DingTalk's OpenAPI.
const DefaultAPIURL = "https://api.dingtalk.com"

// maxAnswer bounds what ferry reads of an answer from DingTalk.
const maxAnswer = 1 << 20

// openAPI calls DingTalk's OpenAPI as the app: an access token fetched
// with the app's key and secret, cached, and renewed before it expires.
type openAPI struct {
	base         string
	clientID     string
	clientSecret string
	http         *http.Client
	clock        pipeline.Clock
	mu           sync.Mutex
	token        string
	tokenExpires time.Time
}

// tokenMargin is how long before its expiry a token is renewed.
const tokenMargin = 5 * time.Minute

// apiError is DingTalk's answer to a call it refused: the OpenAPI's
// {"code","message"} with its HTTP status, or the older robot APIs'
// {"errcode","errmsg"} (Status 200).
type apiError struct {
	Method  string
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: DingTalk answered %d %s: %s", e.Method, e.Status, e.Code, cut(oneLine(e.Message), 200))
}

// limited reports whether DingTalk refused a call for its rate limits.
func (e *apiError) limited() bool {
	return e.Status == http.StatusTooManyRequests || strings.Contains(e.Code, "QpsLimit") || strings.Contains(e.Code, "Throttling") ||
		e.Code == "130101" || e.Code == "410100"
}

// refused reports whether trying again cannot help: DingTalk refuses what
// was asked (a bad parameter, a missing permission, no such group).
func (e *apiError) refused() bool {
	return !e.limited() && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusUnauthorized && e.Status != http.StatusRequestTimeout
}

// outboxError says when a failed call may be tried again: after a rate
// limit (a minute for the OpenAPI), never when DingTalk refuses what was
// asked.
func outboxError(err error) error {
	var e *apiError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.limited():
		return bot.RetryAfter(time.Minute, err)
	case errors.As(err, &e) && e.refused():
		return bot.Permanent(err)
	}
	return err
}

// accessToken returns a valid access token, fetching one when there is
// none or it is about to expire.
func (o *openAPI) accessToken(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if o.token != "" && now.Before(o.tokenExpires.Add(-tokenMargin)) {
		return o.token, nil
	}
	var out struct {
		AccessToken string `json:"accessToken"`
		ExpireIn    int64  `json:"expireIn"`
	}
	body := map[string]string{"appKey": o.clientID, "appSecret": o.clientSecret}
	if err := o.send(ctx, http.MethodPost, "/v1.0/oauth2/accessToken", "", body, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", errors.New("accessToken: DingTalk answered without a token")
	}
	o.token, o.tokenExpires = out.AccessToken, now.Add(time.Duration(out.ExpireIn)*time.Second)
	return o.token, nil
}

// forget drops the cached token, after DingTalk refused it.
func (o *openAPI) forget(token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == token {
		o.token = ""
	}
}

// call makes one OpenAPI call with the app's token, fetching a new token
// once if DingTalk refuses the cached one.
func (o *openAPI) call(ctx context.Context, method, path string, in, out any) error {
	for attempt := 0; ; attempt++ {
		token, err := o.accessToken(ctx)
		if err != nil {
			return err
		}
		err = o.send(ctx, method, path, token, in, out)
		var e *apiError
		if attempt == 0 && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			o.forget(token)
			continue
		}
		return err
	}
}

// send makes one request to the OpenAPI and decodes its answer.
func (o *openAPI) send(ctx context.Context, method, path, token string, in, out any) error {
	return doJSON(ctx, o.http, method, o.base+path, token, in, out)
}

// doJSON sends in as JSON to url and decodes the answer into out; an answer
// that is not 2xx, or carries a nonzero errcode, is an *apiError.
func doJSON(ctx context.Context, client *http.Client, method, url, token string, in, out any) error {
	name := endpointName(url)
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, scrubURL(err))
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var status struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		ErrCode json.RawMessage `json:"errcode"`
		ErrMsg  string          `json:"errmsg"`
	}
	_ = json.Unmarshal(answer, &status)
	if res.StatusCode/100 != 2 {
		if status.Code == "" {
			status.Code = http.StatusText(res.StatusCode)
		}
		return &apiError{Method: name, Status: res.StatusCode, Code: status.Code, Message: status.Message}
	}
	if code := strings.Trim(string(status.ErrCode), `"`); code != "" && code != "0" {
		return &apiError{Method: name, Status: res.StatusCode, Code: code, Message: status.ErrMsg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s: an answer that does not decode: %w", name, err)
	}
	return nil
}

// endpointName names a call in errors and logs by its path alone: robot
// webhooks and session webhooks carry their secrets in the query.
func endpointName(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[i:]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

// scrubURL keeps the address out of a transport error: url.Error prints
// the whole URL, with a robot's access_token or a session in it.
func scrubURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.Contains(err.Error(), "?") {
		return ue.Unwrap()
	}
	return err
}

// Card instances (互动卡片), with the template ferry ships.

// openSpace is where a card is delivered: a group by its
// openConversationId.
func groupSpace(conversation string) string { return "dtv1.card//IM_GROUP." + conversation }

type cardParams struct {
	CardParamMap map[string]string `json:"cardParamMap"`
}

type createCard struct {
	CardTemplateID string                `json:"cardTemplateId"`
	OutTrackID     string                `json:"outTrackId"`
	OpenSpaceID    string                `json:"openSpaceId"`
	CallbackType   string                `json:"callbackType"`
	CardData       cardParams            `json:"cardData"`
	UserIDType     int                   `json:"userIdType"`
	GroupDeliver   groupDeliver          `json:"imGroupOpenDeliverModel"`
	GroupSpace     map[string]any        `json:"imGroupOpenSpaceModel"`
	PrivateData    map[string]cardParams `json:"privateData,omitempty"`
}

type groupDeliver struct {
	RobotCode string            `json:"robotCode"`
	AtUserIDs map[string]string `json:"atUserIds,omitempty"`
}

type updateCard struct {
	OutTrackID  string                `json:"outTrackId"`
	CardData    *cardParams           `json:"cardData,omitempty"`
	PrivateData map[string]cardParams `json:"privateData,omitempty"`
	Options     map[string]bool       `json:"cardUpdateOptions"`
}

// errCardExists is DingTalk's answer to a card created twice.
func cardExists(err error) bool {
	var e *apiError
	return errors.As(err, &e) && strings.Contains(strings.ToLower(e.Code), "outtrackidexist")
}

// cardGone is DingTalk's answer to an update of a card it does not have.
func cardGone(err error) bool {
	var e *apiError
	return errors.As(err, &e) && strings.Contains(strings.ToLower(e.Code), "notexist")
}

// Robot messages of the app's robot.

// robotMessage is one message of DingTalk's robot templates: its key
// (sampleMarkdown, sampleActionCard, …) and parameters.
type robotMessage struct {
	Key   string
	Param map[string]string
}

func markdownMessage(title, text string) robotMessage {
	return robotMessage{Key: "sampleMarkdown", Param: map[string]string{"title": title, "text": text}}
}

// groupSend posts a robot message in a group.
func (o *openAPI) groupSend(ctx context.Context, robotCode, conversation string, m robotMessage) error {
	param, _ := json.Marshal(m.Param)
	return o.call(ctx, http.MethodPost, "/v1.0/robot/groupMessages/send", map[string]string{
		"robotCode": robotCode, "openConversationId": conversation, "msgKey": m.Key, "msgParam": string(param),
	}, nil)
}

// directSend sends people a robot message in their 1:1 chat with it.
func (o *openAPI) directSend(ctx context.Context, robotCode string, userIDs []string, m robotMessage) error {
	param, _ := json.Marshal(m.Param)
	return o.call(ctx, http.MethodPost, "/v1.0/robot/oToMessages/batchSend", map[string]any{
		"robotCode": robotCode, "userIds": userIDs, "msgKey": m.Key, "msgParam": string(param),
	}, nil)
}

// sessionMessage is what a session webhook or a custom robot takes: the
// older robot message format.
type sessionMessage struct {
	MsgType    string          `json:"msgtype"`
	Markdown   *markdownBody   `json:"markdown,omitempty"`
	ActionCard *actionCardBody `json:"actionCard,omitempty"`
	At         *atBody         `json:"at,omitempty"`
}

type markdownBody struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type actionCardBody struct {
	Title          string       `json:"title"`
	Text           string       `json:"text"`
	BtnOrientation string       `json:"btnOrientation"`
	Buttons        []cardButton `json:"btns,omitempty"`
}

type cardButton struct {
	Title string `json:"title"`
	URL   string `json:"actionURL"`
}

type atBody struct {
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll"`
}

// postWebhook posts a message to a session webhook or a custom robot's
// webhook (already signed).
func postWebhook(ctx context.Context, client *http.Client, url string, m sessionMessage) error {
	return doJSON(ctx, client, http.MethodPost, url, "", m, nil)
}
