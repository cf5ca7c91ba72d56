package dashboards

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// ChartTTL is how long a signed chart address works.
const ChartTTL = 30 * 24 * time.Hour

// Signer signs and checks the addresses of digest charts, for chats that
// show images by link: the address names the scope and period and expires,
// and only ferry can make one.
type Signer struct {
	Key     []byte // at least 32 bytes
	BaseURL string // ferry's address, without a trailing /
}

// ChartPath is where ferry serves signed charts.
const ChartPath = "/charts/digest.png"

// URL returns the signed address of the chart of scope over p, valid
// until expires.
func (s Signer) URL(scope Scope, p Period, expires time.Time) string {
	q := chartQuery(scope, p, expires)
	q.Set("sig", s.sign(q))
	return s.BaseURL + ChartPath + "?" + q.Encode()
}

func chartQuery(scope Scope, p Period, expires time.Time) url.Values {
	return url.Values{
		"scope": {scope.String()},
		"from":  {strconv.FormatInt(p.From.Unix(), 10)},
		"to":    {strconv.FormatInt(p.To.Unix(), 10)},
		"tz":    {p.loc().String()},
		"exp":   {strconv.FormatInt(expires.Unix(), 10)},
	}
}

func (s Signer) sign(q url.Values) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("ferry chart\x00" + q.Get("scope") + "\x00" + q.Get("from") + "\x00" + q.Get("to") + "\x00" + q.Get("tz") + "\x00" + q.Get("exp")))
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is a chart address ferry did not sign, or that expired.
var ErrBadSignature = errors.New("the chart's address is not signed by this ferry, or it expired")

// Verify checks a chart address's query at now and returns the scope
// (unparsed) and period it names.
func (s Signer) Verify(q url.Values, now time.Time) (scope string, p Period, err error) {
	want := s.sign(q)
	if len(s.Key) == 0 || !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return "", Period{}, ErrBadSignature
	}
	exp, err1 := strconv.ParseInt(q.Get("exp"), 10, 64)
	from, err2 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err3 := strconv.ParseInt(q.Get("to"), 10, 64)
	loc, err4 := time.LoadLocation(q.Get("tz"))
	if err := errors.Join(err1, err2, err3, err4); err != nil || !now.Before(time.Unix(exp, 0)) {
		return "", Period{}, ErrBadSignature
	}
	return q.Get("scope"), Period{From: time.Unix(from, 0).In(loc), To: time.Unix(to, 0).In(loc), Loc: loc}, nil
}
