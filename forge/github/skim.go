package github

import "encoding/json"

// skimStrings reads the string values of the keys names of the JSON object
// b begins with (after white space) into values, in the order of names,
// without decoding the object's other values: a webhook's repository has a
// hundred keys, and ferry wants four. A key that is absent, or whose value
// is not a string, leaves its value empty. ok is false when b does not
// begin with an object whose keys and values can be told apart; the
// values skipped are not validated, which decoding the body in full does.
func skimStrings(b []byte, names []string, values []string) (ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) && b[i] == '"' {
		keyEnd := skipString(b, i)
		if keyEnd < 0 {
			return false
		}
		colon := skipSpace(b, keyEnd)
		if colon >= len(b) || b[colon] != ':' {
			return false
		}
		v := skipSpace(b, colon+1)
		end := skipValue(b, v)
		if end < 0 {
			return false
		}
		for k, name := range names {
			if !keyIs(b[i:keyEnd], name) {
				continue
			}
			values[k] = ""
			if b[v] == '"' && json.Unmarshal(b[v:end], &values[k]) != nil {
				return false
			}
		}
		i = skipSpace(b, end)
		switch {
		case i < len(b) && b[i] == '}':
			return true
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		default:
			return false
		}
	}
	return false
}

// keyIs reports whether the quoted key is name; a key with escapes is
// unquoted first.
func keyIs(quoted []byte, name string) bool {
	if len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name {
		return true
	}
	for _, c := range quoted {
		if c == '\\' {
			var key string
			return json.Unmarshal(quoted, &key) == nil && key == name
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i], or
// -1 when it does not end.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value that starts at b[i], or -1
// when it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
