package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"example.com/scenariokit/groundtruth"
)

// paymentClient talks to the payment service. The incident: its client was given
// no Timeout ("settlement can be slow") and its calls no context, so when the
// payment service hangs on a request, callWithRetry waits for ever, and so do the
// connection's readLoop and writeLoop.
type paymentClient struct {
	base string
	http *http.Client
}

func newPaymentClient(base string) *paymentClient {
	tr := &http.Transport{
		DialContext:       groundtruth.Dialer("payment-retry-no-timeout", &net.Dialer{Timeout: 2 * time.Second}),
		DisableKeepAlives: true, // the payment gateway's load balancer used to drop idle connections
	}
	return &paymentClient{base: base, http: &http.Client{Transport: tr}}
}

func (c *paymentClient) Charge(o order) error {
	return c.callWithRetry("/v1/charges", o)
}

func (c *paymentClient) Refund(o order) error {
	if o.amount > 150 {
		return c.callWithRetry("/v1/refunds/manual", o)
	}
	return c.callWithRetry("/v1/refunds", o)
}

var errGaveUp = errors.New("payment: gave up after 5 attempts")

func (c *paymentClient) callWithRetry(path string, o order) error {
	backoff := 20 * time.Millisecond
	body := fmt.Appendf(nil, `{"order":%d,"amount":%.2f}`, o.id, o.amount)
	for attempt := 1; ; attempt++ {
		resp, err := c.http.Post(c.base+path+gatewayBehaviour(), "application/json", bytes.NewReader(body))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if attempt == 5 {
			return errGaveUp
		}
		time.Sleep(backoff)
		backoff *= 2
	}
}

// gatewayBehaviour is how the (simulated) payment service will treat a request:
// mostly quick, sometimes 503, and now and then it never answers.
func gatewayBehaviour() string {
	switch x := rand.IntN(1000); {
	case x < 12:
		return "?hang=1"
	case x < 120:
		return "?status=503&delay=3ms"
	default:
		return fmt.Sprintf("?delay=%dms", 3+rand.IntN(25))
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
