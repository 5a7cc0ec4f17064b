package recovery

import (
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // Europe/Rome on minimal images
)

var rome, _ = time.LoadLocation("Europe/Rome")

func pick(lang, it, en string) string {
	if lang == "en" {
		return en
	}
	return it
}

func when(t time.Time) string { return t.In(rome).Format("02/01/2006 15:04") }

func subject(lang, it, en string) string { return "SPID: " + pick(lang, it, en) }

func usernameText(lang, username, base string) string {
	return pick(lang,
		"Gentile utente,\n\nhai chiesto di ricordarti il nome utente della tua identità SPID. Il tuo nome utente è:\n\n    "+username+
			"\n\nSe non hai fatto tu questa richiesta, puoi ignorare questo messaggio: nessuno ha avuto accesso alla tua identità.\n\n"+
			"Per accedere all'area personale: "+base+"/account/\n",
		"Hello,\n\nyou asked us to remind you of the username of your SPID identity. Your username is:\n\n    "+username+
			"\n\nIf you did not make this request, you can ignore this message: nobody has accessed your identity.\n\n"+
			"To open your personal area: "+base+"/account/\n")
}

func resetLinkText(lang, link string, minutes int) string {
	m := strconv.Itoa(minutes)
	return pick(lang,
		"Gentile utente,\n\nhai chiesto di reimpostare la password della tua identità SPID. Apri questo link entro "+m+
			" minuti; ti chiederemo un codice che invieremo per SMS al cellulare registrato:\n\n"+link+
			"\n\nIl link si può usare una sola volta. Se non hai fatto tu questa richiesta, ignora questo messaggio: la password resta quella di prima.\n",
		"Hello,\n\nyou asked to reset the password of your SPID identity. Open this link within "+m+
			" minutes; we will ask for a code that we will send by SMS to your registered mobile:\n\n"+link+
			"\n\nThe link works only once. If you did not make this request, ignore this message: your password stays as it was.\n")
}

func passwordChangedText(lang, base string, at time.Time) string {
	return pick(lang,
		"Gentile utente,\n\nil "+when(at)+" la password della tua identità SPID è stata reimpostata con il link inviato a questo indirizzo e un codice inviato al tuo cellulare. "+
			"Per sicurezza abbiamo chiuso tutte le sessioni aperte: dovrai accedere di nuovo ai servizi.\n\n"+
			"Se non sei stato tu, sospendi subito l'identità dall'area personale ("+base+"/account/) o contatta l'assistenza ("+base+"/care/tickets/new).\n",
		"Hello,\n\non "+when(at)+" the password of your SPID identity was reset with the link sent to this address and a code sent to your mobile. "+
			"For your security we closed every open session: you will need to log in to services again.\n\n"+
			"If it was not you, suspend the identity at once in your personal area ("+base+"/account/) or contact customer care ("+base+"/care/tickets/new).\n")
}

func appRevokedText(lang string, devices []string, base string, at time.Time) string {
	list := strings.Join(devices, ", ")
	if list == "" {
		list = pick(lang, "nessuno", "none")
	}
	return pick(lang,
		"Gentile utente,\n\nil "+when(at)+" hai segnalato di aver perso il telefono o l'app: abbiamo scollegato dalla tua identità SPID tutti i dispositivi ("+list+
			") e chiuso tutte le sessioni aperte.\n\nPer usare di nuovo l'app, accedi con SPID livello 2 a un servizio o all'area personale ("+base+
			"/account/): dopo la password ti proporremo di attivarla sul nuovo telefono con un codice inviato per SMS al cellulare registrato.\n\n"+
			"Se non sei stato tu, cambia subito la password e contatta l'assistenza ("+base+"/care/tickets/new).\n",
		"Hello,\n\non "+when(at)+" you reported that you lost your phone or the app: we disconnected every device from your SPID identity ("+list+
			") and closed every open session.\n\nTo use the app again, log in with SPID level 2 to a service or to your personal area ("+base+
			"/account/): after your password we will offer to activate it on the new phone with a code sent by SMS to your registered mobile.\n\n"+
			"If it was not you, change your password at once and contact customer care ("+base+"/care/tickets/new).\n")
}
