package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/dev"
)

func (a *app) requestCmd() *cobra.Command {
	var url, key, keyFile, doc, nin, purpose, clerk, out, samples string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask the lookup API for a document (a client for clerks and scripts)",
		Long: `Sends POST /v1/document-requests and prints the answer: the signed document (saved with --out,
to check later with 'askonce verify'), or the problem (not held and which paper to ask for,
denied, invalid). Exit status 0 when issued, 3 when not held, 1 otherwise.

The client's API key is read from --key-file FILE or from ASKONCE_REQUEST_KEY, never from
the command line (where ps and the shell history would show it).

--samples FILE asks every document type for every citizen of a sample file written by
'askonce dev' (.var/dev/sample-citizens.json) and checks each outcome against the expected one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			hc := &http.Client{Timeout: timeout}
			if samples != "" {
				return a.requestSamples(ctx, hc, samples, url)
			}
			if cmd.Flags().Changed("key") {
				return errors.New("request: --key is refused: a key on the command line shows in ps and the shell history; use --key-file FILE or ASKONCE_REQUEST_KEY")
			}
			key, err := a.requestKey(keyFile)
			if err != nil {
				return err
			}
			if doc == "" || nin == "" || purpose == "" {
				return errors.New("request: --type, --nin and --purpose are required")
			}
			status, body, err := ask(ctx, hc, url, key, doc, nin, purpose, clerk)
			if err != nil {
				return err
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, body, "", "  ") != nil {
				pretty.Write(body)
			}
			fmt.Fprintln(a.stdout, pretty.String())
			if status == http.StatusOK && out != "" {
				var signed struct {
					Document  json.RawMessage `json:"document"`
					Signature json.RawMessage `json:"signature"`
				}
				if err := json.Unmarshal(body, &signed); err != nil {
					return fmt.Errorf("request: answer: %w", err)
				}
				b, _ := json.MarshalIndent(signed, "", "  ")
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "saved to %s (check it with: askonce verify %s --keys %s/v1/keys)\n", out, out, strings.TrimRight(url, "/"))
			}
			switch status {
			case http.StatusOK:
				return nil
			case http.StatusNotFound:
				return exitError{code: 3}
			default:
				return fmt.Errorf("request: HTTP %d", status)
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "http://127.0.0.1:8080", "lookup API base URL")
	fl.StringVar(&keyFile, "key-file", "", "file holding the client's API key (default: $ASKONCE_REQUEST_KEY)")
	fl.StringVar(&key, "key", "", "refused: use --key-file or ASKONCE_REQUEST_KEY")
	_ = fl.MarkHidden("key")
	fl.StringVar(&doc, "type", "", "document type (GET /v1/document-types)")
	fl.StringVar(&nin, "nin", "", "the citizen's NIN")
	fl.StringVar(&purpose, "purpose", "", "purpose (procedure code)")
	fl.StringVar(&clerk, "clerk", "cli", "clerk id, for the audit log")
	fl.StringVar(&out, "out", "", "save an issued document (document and signature) to this file")
	fl.StringVar(&samples, "samples", "", "check every document type for every citizen of a sample file (askonce dev)")
	fl.DurationVar(&timeout, "timeout", 10*time.Second, "request timeout")
	return cmd
}

// requestKey reads the API key from file, else from ASKONCE_REQUEST_KEY;
// a file's trailing newline is dropped.
func (a *app) requestKey(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("request: --key-file: %w", err)
		}
		if k := strings.TrimRight(string(b), "\r\n"); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("request: --key-file %s is empty", file)
	}
	for _, kv := range a.environ {
		if k, ok := strings.CutPrefix(kv, "ASKONCE_REQUEST_KEY="); ok && k != "" {
			return k, nil
		}
	}
	return "", errors.New("request: no API key: give --key-file FILE or set ASKONCE_REQUEST_KEY")
}

func ask(ctx context.Context, hc *http.Client, url, key, doc, nin, purpose, clerk string) (int, []byte, error) {
	body, _ := json.Marshal(map[string]string{"document_type": doc, "nin": nin, "purpose": purpose, "clerk_id": clerk})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(url, "/")+"/v1/document-requests", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("request: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, b, err
}

// outcomeOf reads "issued" or "not_held/<reason>" (or the problem's
// outcome) from an answer.
func outcomeOf(status int, body []byte) string {
	var a struct{ Outcome, Reason string }
	_ = json.Unmarshal(body, &a)
	if a.Outcome == "" {
		return fmt.Sprintf("HTTP %d", status)
	}
	if a.Reason != "" && a.Outcome == "not_held" {
		return a.Outcome + "/" + a.Reason
	}
	return a.Outcome
}

func (a *app) requestSamples(ctx context.Context, hc *http.Client, file, url string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var f struct {
		API      string       `json:"api"`
		Asks     []dev.Ask    `json:"asks"`
		Citizens []dev.Sample `json:"citizens"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("request: %s: %w", file, err)
	}
	if f.API != "" && url == "http://127.0.0.1:8080" {
		url = f.API
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "citizen\tdocument\texpected\tgot\t")
	bad := 0
	for _, c := range f.Citizens {
		for _, q := range f.Asks {
			status, body, err := ask(ctx, hc, url, q.Key, q.DocumentType, c.NIN, q.Purpose, "samples")
			if err != nil {
				return err
			}
			got, want := outcomeOf(status, body), c.Expected[q.DocumentType]
			mark := ""
			if got != want {
				mark = "MISMATCH"
				bad++
			}
			fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\n", c.Kind, c.NIN, q.DocumentType, want, got, mark)
		}
	}
	tw.Flush()
	if bad > 0 {
		return fmt.Errorf("request: %d answer(s) differ from the expected outcome", bad)
	}
	fmt.Fprintf(a.stdout, "all %d answers as expected\n", len(f.Citizens)*len(f.Asks))
	return nil
}
