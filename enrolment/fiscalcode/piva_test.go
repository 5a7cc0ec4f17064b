package fiscalcode

import (
	"errors"
	"testing"
)

func TestE010_PartitaIVA(t *testing.T) {
	tests := []struct {
		in   string
		code string // "" = valid
	}{
		{"12345670017", ""},
		{" 12345670017\n", ""},
		{"00743110157", ""}, // a real company's number
		{"12345670018", CodePIVACheck},
		{"12345670010", CodePIVACheck},
		{"1234567001", CodePIVALength},   // 10 digits
		{"123456700171", CodePIVALength}, // 12 digits
		{"", CodePIVALength},
		{"IT12345670017", CodePIVACharset},
		{"1234567 0017", CodePIVACharset},
		{"1234567001７", CodePIVACharset}, // full-width digit
	}
	for _, tt := range tests {
		err := ValidatePIVA(tt.in)
		if tt.code == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			}
			continue
		}
		var pe PIVAError
		if !errors.As(err, &pe) || pe.Code() != tt.code {
			t.Errorf("%q: %v, want %s", tt.in, err, tt.code)
		}
	}
	// Every single-digit change of a valid number is caught.
	valid := "12345670017"
	for i := range valid {
		for d := byte('0'); d <= '9'; d++ {
			if d == valid[i] {
				continue
			}
			b := []byte(valid)
			b[i] = d
			if ValidatePIVA(string(b)) == nil {
				t.Errorf("%s accepted", b)
			}
		}
	}
	if _, ok := PIVACheckDigit("12345"); ok {
		t.Error("short input accepted")
	}
	if _, ok := PIVACheckDigit("12345A7001"); ok {
		t.Error("letter accepted")
	}
}
