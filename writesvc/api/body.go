package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// apiError is a client error on its way to the response.
type apiError struct {
	status  int
	code    string
	message string
}

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func (e *apiError) write(w http.ResponseWriter) {
	httpapi.WriteError(w, e.status, e.code, e.message)
}

// fromValidation turns a validate.Error into a 400.
func fromValidation(err error) *apiError {
	var v *validate.Error
	if errors.As(err, &v) {
		return badRequest(v.Code, "%s", v.Message)
	}
	return badRequest("invalid_json", "%v", err)
}

// readBody reads a JSON request body: the content type must be
// application/json (charset, if given, utf-8), the body at most
// MaxBodyBytes and valid UTF-8. With optional, an empty body (of any
// content type) is returned as nil.
func readBody(w http.ResponseWriter, r *http.Request, optional bool) ([]byte, *apiError) {
	if optional && r.ContentLength == 0 {
		return nil, nil
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body may be at most %d bytes", MaxBodyBytes)}
	}
	typeErr := checkContentType(r.Header.Values("Content-Type"))
	if typeErr != nil && !optional {
		return nil, typeErr
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body may be at most %d bytes", MaxBodyBytes)}
		}
		return nil, badRequest("invalid_body", "reading the body failed: %v", err)
	}
	if optional && len(body) == 0 {
		return nil, nil
	}
	if typeErr != nil {
		return nil, typeErr
	}
	if !utf8.Valid(body) {
		return nil, badRequest(validate.CodeInvalidUTF8, "the body is not valid UTF-8")
	}
	return body, nil
}

func checkContentType(values []string) *apiError {
	unsupported := func(why string) *apiError {
		return &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", why + `; send Content-Type: application/json`}
	}
	if len(values) == 0 {
		return unsupported("no Content-Type")
	}
	if len(values) > 1 {
		return unsupported("more than one Content-Type")
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil {
		return unsupported("malformed Content-Type")
	}
	if mt != "application/json" {
		return unsupported("Content-Type " + mt + " is not supported")
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return unsupported("Content-Type parameter " + k + "=" + v + " is not supported")
		}
	}
	return nil
}

// decodeStrict decodes a JSON object into the struct dst points to,
// refusing unknown fields (names must match a json tag exactly:
// encoding/json alone would also take "Content" or "CONTENT" for
// "content"), duplicate fields, type mismatches and anything after the
// object.
// readJSON reads the request body and decodes it strictly into dst; an
// optional body may be absent, leaving dst as it is.
func readJSON(w http.ResponseWriter, r *http.Request, optional bool, dst any) *apiError {
	body, err := readBody(w, r, optional)
	if err != nil || body == nil {
		return err
	}
	return decodeStrict(body, dst)
}

func decodeStrict(body []byte, dst any) *apiError {
	if err := checkObject(body, fieldNames(dst)); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return badRequest("invalid_field", "field %q must be %s, not a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("unknown_field", "%s; the fields of this body are listed in the API documentation", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return badRequest("invalid_json", "the body is not valid JSON: %v", err)
		}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32":
		return "an integer"
	}
	return "of another type"
}

// checkObject walks body's tokens: it must be exactly one JSON object, and
// no object in it may name a field twice (encoding/json would keep the
// last silently; a proxy in front might have read the first).
func checkObject(body []byte, fields map[string]bool) *apiError {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return badRequest("invalid_json", "the body is not valid JSON: %v", err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return badRequest("invalid_json", "the body must be a JSON object")
	}
	if err := checkObjectRest(d, 1, fields); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return badRequest("invalid_json", "the body holds more than one JSON value")
	}
	return nil
}

// maxDepth bounds nesting; no body of this API nests more than two levels.
const maxDepth = 8

// checkObjectRest reads the rest of an object whose '{' was just read;
// fields, if not nil, lists the names allowed in it.
func checkObjectRest(d *json.Decoder, depth int, fields map[string]bool) *apiError {
	if depth > maxDepth {
		return badRequest("invalid_json", "the body nests deeper than %d levels", maxDepth)
	}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return badRequest("invalid_json", "the body is not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		if fields != nil && !fields[key] {
			return badRequest("unknown_field", "unknown field %q; the fields of this body are listed in the API documentation", key)
		}
		if seen[key] {
			return badRequest("invalid_json", "field %q appears twice", key)
		}
		seen[key] = true
		if err := skipValue(d, depth); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil { // '}'
		return badRequest("invalid_json", "the body is not valid JSON: %v", err)
	}
	return nil
}

func skipValue(d *json.Decoder, depth int) *apiError {
	tok, err := d.Token()
	if err != nil {
		return badRequest("invalid_json", "the body is not valid JSON: %v", err)
	}
	switch tok {
	case json.Delim('{'):
		return checkObjectRest(d, depth+1, nil)
	case json.Delim('['):
		if depth+1 > maxDepth {
			return badRequest("invalid_json", "the body nests deeper than %d levels", maxDepth)
		}
		for d.More() {
			if err := skipValue(d, depth+1); err != nil {
				return err
			}
		}
		if _, err := d.Token(); err != nil { // ']'
			return badRequest("invalid_json", "the body is not valid JSON: %v", err)
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type → map[string]bool

// fieldNames returns the json names of the fields of the struct v points to.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]bool)
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	fieldCache.Store(t, names)
	return names
}
