package config

import (
	"strings"
	"testing"
	"time"
)

// TestVideoHoursValidation: the video calls' service hours are checked at
// start-up like every option, each problem naming its option; the
// defaults are §5.4's (Monday to Saturday, 08:00–20:00).
func TestVideoHoursValidation(t *testing.T) {
	f := newFixture(t)
	for name, c := range map[string]struct {
		env  []string
		path string
		msg  string
	}{
		"unknown day":         {[]string{"SPID_IDP_ENROLMENT_VIDEO_DAYS=mon, funday"}, "enrolment.video_days", "among mon, tue"},
		"day twice":           {[]string{"SPID_IDP_ENROLMENT_VIDEO_DAYS=mon, mon"}, "enrolment.video_days", "each once"},
		"no day":              {[]string{"SPID_IDP_ENROLMENT_VIDEO_DAYS=,"}, "enrolment.video_days", "must list days"},
		"reversed hours":      {[]string{"SPID_IDP_ENROLMENT_VIDEO_HOURS=20:00-08:00"}, "enrolment.video_hours", "opening before the closing"},
		"not a clock":         {[]string{"SPID_IDP_ENROLMENT_VIDEO_HOURS=9-17"}, "enrolment.video_hours", "HH:MM-HH:MM"},
		"too short":           {[]string{"SPID_IDP_ENROLMENT_VIDEO_SLOT_MINUTES=5"}, "enrolment.video_slot_minutes[0]", "from 10 to 120"},
		"not a number":        {[]string{"SPID_IDP_ENROLMENT_VIDEO_SLOT_MINUTES=20, half an hour"}, "enrolment.video_slot_minutes[1]", "whole number of minutes"},
		"repeated":            {[]string{"SPID_IDP_ENROLMENT_VIDEO_SLOT_MINUTES=20, 20"}, "enrolment.video_slot_minutes[1]", "list each length once"},
		"longer than the day": {[]string{"SPID_IDP_ENROLMENT_VIDEO_HOURS=09:00-10:00", "SPID_IDP_ENROLMENT_VIDEO_SLOT_MINUTES=90"}, "enrolment.video_slot_minutes[0]", "longer than the service hours"},
		"retention too short": {[]string{"SPID_IDP_ENROLMENT_VIDEO_RETENTION=2h"}, "enrolment.video_retention", "at least one day"},
	} {
		t.Run(name, func(t *testing.T) {
			got := problems(t, f.write(t, f.minimal()), append(f.env, c.env...))
			if p := find(got, c.path); p == nil || !strings.Contains(p.String(), c.msg) {
				t.Errorf("want %s: %q among\n%v", c.path, c.msg, got)
			}
		})
	}
	ok := []string{"SPID_IDP_ENROLMENT_VIDEO_DAYS=Sun, sat", "SPID_IDP_ENROLMENT_VIDEO_HOURS=09:00-13:00",
		"SPID_IDP_ENROLMENT_VIDEO_SLOT_MINUTES=30, 45", "SPID_IDP_ENROLMENT_VIDEO_RETENTION=90d"}
	if got := problems(t, f.write(t, f.minimal()), append(f.env, ok...)); len(got) != 0 {
		t.Fatalf("valid video hours refused: %v", got)
	}
	c, err := Load(f.write(t, f.minimal()), f.env)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Enrolment
	if strings.Join(e.VideoDays, ",") != "mon,tue,wed,thu,fri,sat" || e.VideoHours != "08:00-20:00" ||
		strings.Join(e.VideoSlotMinutes, ",") != "15,20,30,45,60" || e.VideoRetention != 30*24*time.Hour {
		t.Errorf("defaults: %q %q %q %v", e.VideoDays, e.VideoHours, e.VideoSlotMinutes, e.VideoRetention)
	}
}
