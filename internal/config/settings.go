package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Setting is one key of the configuration as the dashboard shows it.
type Setting struct {
	Key   string // dotted, e.g. "smtp.port"
	Value string // for a secret only "set" or "not set"
}

// Settings lists every scalar key of c with its value, in the order of
// Config. A key whose name says it holds a password, token, secret or key
// shows only whether it is set: the page that lists them must not become a
// way to read them. A key naming a file holds a path, which is no secret.
func (c Config) Settings() []Setting {
	var settings []Setting
	eachKey(&c, func(key string, field reflect.Value) error {
		settings = append(settings, Setting{Key: key, Value: settingValue(key, field)})
		return nil
	})
	return settings
}

func isSecret(key string) bool {
	name := key[strings.LastIndex(key, ".")+1:]
	if strings.HasSuffix(name, "_file") {
		return false
	}
	for _, word := range []string{"password", "token", "secret", "key"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

func settingValue(key string, field reflect.Value) string {
	if isSecret(key) {
		if field.IsZero() {
			return "not set"
		}
		return "set"
	}
	if field.Kind() == reflect.Slice {
		items := make([]string, field.Len())
		for i := range items {
			items[i] = fmt.Sprint(field.Index(i).Interface())
		}
		return strings.Join(items, ", ")
	}
	return fmt.Sprint(field.Interface())
}
