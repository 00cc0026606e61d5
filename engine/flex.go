package engine

import (
	"encoding/json"
	"strconv"
)

// Bool and Int read Vault's loosely typed request fields (its framework's
// TypeBool and TypeInt): a JSON value of the type, or a string holding
// one, as the CLI's key=value pairs send them ("true", "1", "2").
type (
	Bool bool
	Int  int
)

// UnmarshalJSON reads a boolean, or a string strconv.ParseBool accepts
// (Vault's parseutil.ParseBool).
func (f *Bool) UnmarshalJSON(b []byte) error {
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		*f = Bool(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(ErrBadRequest, "expected a boolean")
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return Errorf(ErrBadRequest, "expected a boolean, got %q", s)
	}
	*f = Bool(v)
	return nil
}

// UnmarshalJSON reads an integer, or a string holding one.
func (f *Int) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		v, err := strconv.Atoi(n.String())
		if err != nil {
			return Errorf(ErrBadRequest, "expected an integer")
		}
		*f = Int(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(ErrBadRequest, "expected an integer")
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return Errorf(ErrBadRequest, "expected an integer, got %q", s)
	}
	*f = Int(v)
	return nil
}
