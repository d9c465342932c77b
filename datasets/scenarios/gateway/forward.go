package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"example.com/scenariokit/groundtruth"
)

// forwarder posts webhook events to their subscribers' endpoints.
type forwarder struct {
	client *http.Client
	base   string
}

func newForwarder(upURL string) *forwarder {
	return &forwarder{
		base: upURL,
		client: &http.Client{ // no Timeout: a timeout would close the forgotten bodies after a while
			Transport: &http.Transport{
				DialContext:       groundtruth.Dialer("response-body-not-closed", &net.Dialer{Timeout: time.Second}),
				DisableKeepAlives: true, // subscribers' endpoints are all over the place
			},
		},
	}
}

func (f *forwarder) forward(name, tenant string) error {
	resp, err := f.client.Post(f.base+"/v1/endpoints/"+name+subscriberBehaviour(), "application/json",
		strings.NewReader(`{"tenant":"`+tenant+`"}`))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: %s", name, resp.Status) // the bug: the body is never closed
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// subscriberBehaviour: most endpoints accept, one in twelve rejects with a body.
func subscriberBehaviour() string {
	if rand.IntN(12) == 0 {
		return "?status=410&size=2048"
	}
	return fmt.Sprintf("?delay=%dms", 1+rand.IntN(6))
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
