package agentlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/afterhours-go/afterhours"
)

// CredentialsKey is the key of the credentials in the executor's
// [afterhours.Store]. The token lives with the executor's state: with a
// [afterhours.FileStore] it is the file agentlink.json, mode 0600, written
// atomically, in the state directory the executor already locks and trusts.
const CredentialsKey = "agentlink"

// Credentials are what enrolment gives an agent: the server's URL, its
// client id and its bearer token.
type Credentials struct {
	Server string `json:"server"`
	Client string `json:"client"`
	Token  string `json:"token"`
}

// Enroll trades a one-time enrolment code for credentials at serverURL
// (POST /v1/agent/enroll). A nil client means http.DefaultClient. Errors
// carry the server's message; a code used before or unknown fails.
func Enroll(ctx context.Context, serverURL, code string, client *http.Client) (Credentials, error) {
	if client == nil {
		client = http.DefaultClient
	}
	serverURL = strings.TrimRight(serverURL, "/")
	body, _ := json.Marshal(map[string]string{"code": code})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL+"/v1/agent/enroll", bytes.NewReader(body))
	if err != nil {
		return Credentials{}, fmt.Errorf("agentlink: enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("agentlink: enroll: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Credentials{}, fmt.Errorf("agentlink: enroll: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Credentials{}, fmt.Errorf("agentlink: enroll: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	var e struct {
		Client string `json:"client"`
		Token  string `json:"token"`
	}
	if err := json.Unmarshal(data, &e); err != nil || e.Client == "" || e.Token == "" {
		return Credentials{}, fmt.Errorf("agentlink: enroll: malformed answer %q", data)
	}
	return Credentials{Server: serverURL, Client: e.Client, Token: e.Token}, nil
}

// SaveCredentials saves c in store under [CredentialsKey].
func SaveCredentials(store afterhours.Store, c Credentials) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := store.Save(CredentialsKey, data); err != nil {
		return fmt.Errorf("agentlink: save credentials: %w", err)
	}
	return nil
}

// LoadCredentials returns the credentials saved in store, or
// [ErrNoCredentials] when there are none.
func LoadCredentials(store afterhours.Store) (Credentials, error) {
	data, err := store.Load(CredentialsKey)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, ErrNoCredentials
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("agentlink: load credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil || c.Server == "" || c.Client == "" || c.Token == "" {
		return Credentials{}, fmt.Errorf("agentlink: credentials record %s is malformed", CredentialsKey)
	}
	return c, nil
}
