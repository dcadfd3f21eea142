//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// benchDeliver measures, against one in-process sink and with the same
// number of connections, (a) the real alertd binary delivering a digest to
// the readers of the first of n frequencies the confirmed subscribers are
// spread over (all of them when n is 1) and (b) the transport limit: a
// minimal pipelined client pushing as many messages of the digest's size.
func benchDeliver(ctx context.Context, alertdPath string, all, connections, n int) error {
	dir, err := os.MkdirTemp("", "alertd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if alertdPath, err = alertdBinary(ctx, alertdPath, dir); err != nil {
		return err
	}
	frequencies := benchFrequencies(n)
	if err := fillDatabase(ctx, filepath.Join(dir, "alertd.db"), all, frequencies); err != nil {
		return err
	}
	// The first frequency's readers are the first subscribers, a block of
	// all/n rounded up.
	subscribers := (all + len(frequencies) - 1) / len(frequencies)
	config := filepath.Join(dir, "frequencies.toml")
	var toml strings.Builder
	for _, f := range frequencies {
		fmt.Fprintf(&toml, "[[frequencies]]\nid = %q\nschedule = %q\n", f.ID, f.Schedule)
	}
	if err := os.WriteFile(config, []byte(toml.String()), 0o600); err != nil {
		return err
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	received := newSink()
	server := newSinkServer(received)
	go server.Serve(listener)
	defer server.Close()

	// (a) first: the digest mail it sends is what (b) replays. This
	// process's CPU time meanwhile is the sink's.
	sinkStart := selfCPU()
	run, err := runAlertd(ctx, alertdPath, dir, config, frequencies[0].ID, listener.Addr().(*net.TCPAddr).Port, connections)
	if err != nil {
		return err
	}
	sinkCPU := selfCPU() - sinkStart
	delivered := received.take()
	if delivered.first == nil {
		return errors.New("alertd sent nothing to the sink; see its output above")
	}

	// (b) twice: as a process of its own, as alertd is, which makes it the
	// transport limit alertd is held to; and inside this process, where
	// the client and the sink wake each other more cheaply, for reference.
	message := filepath.Join(dir, "message.eml")
	if err := os.WriteFile(message, delivered.first, 0o600); err != nil {
		return err
	}
	own, err := runPush(ctx, listener.Addr().String(), message, subscribers, connections, received)
	if err != nil {
		return err
	}
	start, pushStart := time.Now(), selfCPU()
	if err := pushPipelined(listener.Addr().String(), delivered.first, subscribers, connections); err != nil {
		return fmt.Errorf("minimal client: %w", err)
	}
	inProcess, inProcessCPU := time.Since(start), selfCPU()-pushStart
	if err := checkPushed(received, subscribers); err != nil {
		return err
	}

	perSecond := func(d time.Duration) float64 { return float64(subscribers) / d.Seconds() }
	sending := run.total - run.compiled
	transportRate := perSecond(own.total)
	missing, duplicates, unexpected := exactlyOnce(delivered.recipients, subscribers)
	fmt.Printf(`deliver: %d subscribers over %d frequencies, the digest of one to %d, %d connections, digest mail %d bytes
  (b) transport limit, minimal client as a process: %d messages in %s = %.0f msgs/s
      CPU %s (%s a message); the sink's meanwhile %s (%s a message)
      the same client inside the sink's process: %s = %.0f msgs/s, CPU of both %s (%s a message)
  (a) alertd digest send: %s in all = %.0f msgs/s; compiled after %s, then sent in %s = %.0f msgs/s
      alertd/transport: %.2f sending, %.2f overall (against the client in the sink's process: %.2f sending)
      peak RSS %.1f MB, CPU time %s (%s a message); the sink's meanwhile %s (%s a message)
      sink: %d messages, %d missing, %d duplicates, %d unexpected
`,
		all, len(frequencies), subscribers, connections, len(delivered.first),
		subscribers, own.total.Round(time.Millisecond), transportRate,
		own.cpu.Round(time.Millisecond), perMessage(own.cpu, subscribers), own.sinkCPU.Round(time.Millisecond), perMessage(own.sinkCPU, subscribers),
		inProcess.Round(time.Millisecond), perSecond(inProcess), inProcessCPU.Round(time.Millisecond), perMessage(inProcessCPU, subscribers),
		run.total.Round(time.Millisecond), perSecond(run.total), run.compiled.Round(time.Millisecond),
		sending.Round(time.Millisecond), perSecond(sending),
		perSecond(sending)/transportRate, perSecond(run.total)/transportRate, perSecond(sending)/perSecond(inProcess),
		float64(run.maxRSS)/(1<<20), run.cpu.Round(time.Millisecond), perMessage(run.cpu, subscribers),
		sinkCPU.Round(time.Millisecond), perMessage(sinkCPU, subscribers),
		delivered.messages, missing, duplicates, unexpected)
	if missing+duplicates+unexpected > 0 {
		return errors.New("alertd did not deliver exactly once to every subscriber")
	}
	return nil
}

// alertdBinary is path, made absolute as it is run from another
// directory, or when that is empty alertd built into dir.
func alertdBinary(ctx context.Context, path, dir string) (string, error) {
	if path != "" {
		return filepath.Abs(path)
	}
	path = filepath.Join(dir, "alertd")
	build := exec.CommandContext(ctx, "go", "build", "-o", path, "./cmd/alertd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building alertd (run from the repository root, or pass -alertd PATH): %w", err)
	}
	return path, nil
}

// pushRun is what one minimal client process took.
type pushRun struct {
	total, cpu, sinkCPU time.Duration
}

// runPush runs this program's push command against the sink and checks
// that the sink got every message once.
func runPush(ctx context.Context, addr, message string, count, connections int, received *sink) (pushRun, error) {
	self, err := os.Executable()
	if err != nil {
		return pushRun{}, err
	}
	cmd := exec.CommandContext(ctx, self, "push", "-addr", addr, "-message", message,
		"-count", strconv.Itoa(count), "-connections", strconv.Itoa(connections))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start, sinkStart := time.Now(), selfCPU()
	if err := cmd.Run(); err != nil {
		return pushRun{}, fmt.Errorf("minimal client: %w", err)
	}
	run := pushRun{
		total:   time.Since(start),
		cpu:     cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		sinkCPU: selfCPU() - sinkStart,
	}
	return run, checkPushed(received, count)
}

// checkPushed takes the sink's count of a minimal client's run.
func checkPushed(received *sink, count int) error {
	pushed := received.take()
	if missing, duplicates, unexpected := exactlyOnce(pushed.recipients, count); missing+duplicates+unexpected > 0 {
		return fmt.Errorf("minimal client: the sink counted %d missing, %d duplicates, %d unexpected", missing, duplicates, unexpected)
	}
	return nil
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func perMessage(cpu time.Duration, messages int) time.Duration {
	return (cpu / time.Duration(messages)).Round(time.Microsecond)
}

// exactlyOnce compares a sink's per-recipient counts with the bench
// subscribers 0..subscribers-1.
func exactlyOnce(recipients map[string]int, subscribers int) (missing, duplicates, unexpected int) {
	unexpected = len(recipients)
	for i := range subscribers {
		n, ok := recipients[subscriberAddress(i)]
		if !ok {
			missing++
			continue
		}
		unexpected--
		duplicates += n - 1
	}
	return missing, duplicates, unexpected
}

// alertdRun is what one 'alertd digest send' took.
type alertdRun struct {
	total    time.Duration // process start to exit
	compiled time.Duration // process start to its "digest N: ... recipients" line
	cpu      time.Duration // user and system: far below total means it waits, not works
	maxRSS   int64         // bytes
}

// runAlertd runs 'alertd digest send --frequency F' on the database in dir,
// configured by the environment and the frequencies in config, against the
// sink on 127.0.0.1:port.
func runAlertd(ctx context.Context, path, dir, config, frequency string, port, connections int) (alertdRun, error) {
	cmd := exec.CommandContext(ctx, path, "digest", "send", "--frequency", frequency)
	cmd.Dir = dir // where no ./config.toml can be picked up
	cmd.Env = append(os.Environ(),
		"ALERTD_CONFIG="+config,
		"ALERTD_DATABASE_PATH="+filepath.Join(dir, "alertd.db"),
		"ALERTD_SMTP_HOST=127.0.0.1",
		"ALERTD_SMTP_PORT="+strconv.Itoa(port),
		"ALERTD_SMTP_TLS=none",
		"ALERTD_SMTP_CONNECTIONS="+strconv.Itoa(connections),
		"ALERTD_MAIL_FROM=Report Alerts <alerts@example.org>",
		"ALERTD_SERVER_BASE_URL=https://alerts.example.org",
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return alertdRun{}, err
	}
	var run alertdRun
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		fmt.Println("alertd:", lines.Text())
		if run.compiled == 0 && strings.HasSuffix(lines.Text(), " recipients") {
			run.compiled = time.Since(start)
		}
	}
	err = errors.Join(lines.Err(), cmd.Wait())
	run.total = time.Since(start)
	if err != nil {
		return run, fmt.Errorf("alertd digest send: %w", err)
	}
	// Maxrss is in KiB on Linux, the platform these numbers are taken on.
	run.maxRSS = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	run.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return run, nil
}

// pushPipelined sends count copies of message, each to its own bench
// subscriber, over connections parallel SMTP connections that each carry
// many messages. It pipelines the envelope (RFC 2920: MAIL, RCPT and DATA in
// one write, their three replies read together) and then sends the content:
// two round trips per message, the fewest for a client that still waits for
// each message's reply before the next, which makes it the transport limit
// alertd is measured against.
func pushPipelined(addr string, message []byte, count, connections int) error {
	var wire bytes.Buffer
	w := textproto.NewWriter(bufio.NewWriter(&wire))
	dot := w.DotWriter()
	dot.Write(message)
	// Closing writes the final "." line and flushes into wire.
	if err := dot.Close(); err != nil {
		return err
	}
	var next atomic.Int64
	errs := make([]error, connections)
	var wg sync.WaitGroup
	for c := range connections {
		wg.Go(func() { errs[c] = pushOn(addr, wire.Bytes(), count, &next) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pushOn sends messages over one connection, taking recipient numbers from
// next until count is reached.
func pushOn(addr string, content []byte, count int, next *atomic.Int64) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	if _, err := readReply(r, 220); err != nil {
		return err
	}
	w.WriteString("EHLO bench.localhost\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	ehlo, err := readReply(r, 250)
	if err != nil {
		return err
	}
	if !strings.Contains(ehlo, "PIPELINING") {
		return errors.New("the sink does not offer PIPELINING")
	}
	for i := int(next.Add(1)) - 1; i < count; i = int(next.Add(1)) - 1 {
		fmt.Fprintf(w, "MAIL FROM:<alerts@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n", subscriberAddress(i))
		if err := w.Flush(); err != nil {
			return err
		}
		for _, code := range []int{250, 250, 354} {
			if _, err := readReply(r, code); err != nil {
				return err
			}
		}
		w.Write(content)
		if err := w.Flush(); err != nil {
			return err
		}
		if _, err := readReply(r, 250); err != nil {
			return err
		}
	}
	w.WriteString("QUIT\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = readReply(r, 221)
	return err
}

// readReply reads one SMTP reply, possibly of several lines, and fails
// unless its code is want.
func readReply(r *bufio.Reader, want int) (string, error) {
	code := strconv.Itoa(want)
	var text strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if len(line) < 4 || line[:3] != code {
			return "", fmt.Errorf("the sink replied %q, want %d", strings.TrimSpace(line), want)
		}
		text.WriteString(line)
		if line[3] == ' ' {
			return text.String(), nil
		}
	}
}

// push is the push command: the minimal client sending the message in
// the file.
func push(addr, messageFile string, count, connections int) error {
	message, err := os.ReadFile(messageFile)
	if err != nil {
		return err
	}
	return pushPipelined(addr, message, count, connections)
}
