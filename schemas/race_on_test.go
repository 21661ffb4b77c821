//go:build race

package schemas_test

// raceDetector: this test binary runs under the race detector.
const raceDetector = true
