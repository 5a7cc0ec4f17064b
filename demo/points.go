package demo

import "github.com/spid-idp/spid-idp/enrolment/pos"

// PointsOfService are the sample partner shops and registration counters
// of demo mode (made up; enrolment.points_of_service replaces them).
func PointsOfService() []pos.Point {
	return []pos.Point{
		{Kind: pos.Shop, Name: "Tabaccheria Esquilino (demo)", Address: "Via Merulana 120, 00185 Roma", Province: "RM", Hours: "lun–sab 8:00–20:00", HoursEN: "Mon–Sat 8:00–20:00"},
		{Kind: pos.Shop, Name: "Edicola Porta Genova (demo)", Address: "Piazzale Stazione di Porta Genova 3, 20144 Milano", Province: "MI", Hours: "lun–dom 7:00–13:00", HoursEN: "Mon–Sun 7:00–13:00"},
		{Kind: pos.Shop, Name: "Cartoleria San Salvario (demo)", Address: "Via Madama Cristina 42, 10125 Torino", Province: "TO", Hours: "lun–ven 9:00–19:00", HoursEN: "Mon–Fri 9:00–19:00"},
		{Kind: pos.Counter, Name: "Sportello SPID Roma Centro (demo)", Address: "Via del Corso 200, 00186 Roma", Province: "RM", Hours: "lun–ven 9:00–13:00, 14:30–17:30", HoursEN: "Mon–Fri 9:00–13:00, 14:30–17:30"},
		{Kind: pos.Counter, Name: "CAF Napoli Vomero (demo)", Address: "Via Scarlatti 60, 80129 Napoli", Province: "NA", Hours: "lun–ven 9:00–13:00", HoursEN: "Mon–Fri 9:00–13:00"},
		{Kind: pos.Counter, Name: "Sportello SPID Milano Duomo (demo)", Address: "Piazza del Duomo 21, 20122 Milano", Province: "MI", Hours: "lun–ven 8:30–16:30", HoursEN: "Mon–Fri 8:30–16:30"},
	}
}
