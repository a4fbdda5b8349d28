package keel

import (
	"crypto/rand"
	"strings"
	"testing"
)

func TestValidPassword(t *testing.T) {
	refused := []struct {
		password, want string
	}{
		{"short", "must be 12 to 1024 characters"},
		{"elevenchars", "must be 12 to 1024 characters"},
		{"密码密码密码密码密码1", "must be 12 to 1024 characters"}, // 11 characters, 31 bytes
		{strings.Repeat("x", 1025), "must be 12 to 1024 characters"},
		{"password1234", "too common"},
		{"Password123!", "too common"},
		{"P@ssw0rd2024!", "too common"},
		{"passwordpassword", "too common"},
		{"PASSWORD-PASSWORD", "too common"},
		{"1234password", "too common"},
		{"qwertyuiop12", "too common"},
		{"qwertyuiopasdfghjkl", "too common"},
		{"1q2w3e4r5t6y", "too common"},
		{"zaq12wsxcde3", "too common"},
		{"123456789012", "too common"},
		{"098765432109", "too common"},
		{"111111111111", "too common"},
		{"121212121212", "too common"},
		{"aaaaaaaaaaaa", "too common"},
		{"abcdefghijkl", "too common"},
		{"abcabcabcabc", "too common"},
		{"iloveyou1234", "too common"},
		{"ILoveYouForever!", "too common"},
		{"i love my dog!!", "too common"},
		{"correct horse battery staple", "too common"},
		{"CorrectHorseBatteryStaple", "too common"},
		{"Welcome2024!!", "too common"},
		{"Summer2025!!!", "too common"},
		{"letmein123456", "too common"},
		{"trustno1trustno1", "too common"},
		{"Michael19851985", "too common"},
		{"Liverpool1892!", "too common"},
		{"changeme12345", "too common"},
		{"administrator1", "too common"},
		{"$ecret123456", "too common"},
		{"keel12345678", "too common"},
		{"adalovelace1815", "too close to the employee's email or name"},
		{"Ada Lovelace 1815", "too close to the employee's email or name"},
		{"ada.lovelace@example.com", "too close to the employee's email or name"},
	}
	for _, tt := range refused {
		err := ValidPassword("password", tt.password, "ada.lovelace@example.com", "Ada Lovelace")
		if ErrorCode(err) != EINVALID || ErrorField(err) != "password" || !strings.Contains(ErrorMessage(err), tt.want) {
			t.Errorf("ValidPassword(%.40q) = %v, want invalid password: …%s…", tt.password, err, tt.want)
		}
	}
	for _, ok := range []string{
		"keel-demo-password", // the demo's staff sign in with it
		"tulip orbit canyon 42",
		"8fG!xq2LmZ7w",
		"correct horse battery stapler gun",
		"password-X9k!mQ2z",
		"Dragon!Fly#2024",
		"我的密码是一二三四五六七八",
		rand.Text(), // the one-time passwords
		strings.Repeat("x", 1000) + "yz1234567890abc",
	} {
		if err := ValidPassword("password", ok, "ada.lovelace@example.com", "Ada Lovelace"); err != nil {
			t.Errorf("ValidPassword(%.40q) = %v, want it accepted", ok, err)
		}
	}
	if n := len(commonPasswords()); n < 5000 {
		t.Errorf("%d common password forms, want the generated list (thousands)", n)
	}
}
