//go:build race

package browsertest

// raceScale stretches browser deadlines under -race, where the server
// side runs several times slower (CI once ran a one-minute tab out).
const raceScale = 3
