// Package enrolment is the life of a request for a SPID identity
// (enrolment-lifecycle.md §3, §5, §6, §7.1): the request document, the state
// machine of §6.5, the back-office roles of §2 and the Service that moves a
// request from draft to an active identity. Every transition is one store
// update that re-checks the current state, then an audit record, then the
// e-mail; a transition the state machine does not have changes nothing.
package enrolment

import (
	"errors"
	"fmt"
)

// State is where a request is (§6.5).
type State string

const (
	StateDraft               State = "draft"
	StateAwaitingPayment     State = "awaiting_payment"
	StateAwaitingRecognition State = "awaiting_recognition"
	StateAwaitingDocuments   State = "awaiting_documents"
	StateAwaitingProcessing  State = "awaiting_processing"
	StateApproved            State = "approved"
	StateRejected            State = "rejected"
	StateCancelled           State = "cancelled"
	StateExpired             State = "expired"
	StateClosed              State = "closed"
)

// transitions is the §6.5 table: the states each state may move to.
var transitions = map[State][]State{
	StateDraft:               {StateAwaitingPayment, StateAwaitingRecognition, StateCancelled, StateExpired},
	StateAwaitingPayment:     {StateAwaitingRecognition, StateCancelled, StateExpired},
	StateAwaitingRecognition: {StateAwaitingProcessing, StateAwaitingDocuments, StateCancelled, StateExpired},
	StateAwaitingDocuments:   {StateAwaitingProcessing, StateRejected},
	StateAwaitingProcessing:  {StateApproved, StateRejected, StateAwaitingDocuments},
	StateApproved:            nil,
	StateRejected:            {StateAwaitingProcessing, StateAwaitingRecognition, StateClosed},
	StateCancelled:           nil,
	StateExpired:             nil,
	StateClosed:              nil,
}

// States lists every state, in the order of §6.5.
func States() []State {
	return []State{StateDraft, StateAwaitingPayment, StateAwaitingRecognition, StateAwaitingDocuments,
		StateAwaitingProcessing, StateApproved, StateRejected, StateCancelled, StateExpired, StateClosed}
}

// Terminal reports whether nothing leaves s.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Known reports whether s is a state of §6.5.
func (s State) Known() bool {
	_, ok := transitions[s]
	return ok
}

// Label is the external label shown to the applicant (seed, §6.5), in
// Italian unless lang is "en".
func (s State) Label(lang string) string {
	if lang == "en" {
		return labels[s][1]
	}
	return labels[s][0]
}

var labels = map[State][2]string{
	StateDraft:               {"BOZZA", "DRAFT"},
	StateAwaitingPayment:     {"ATTESA PAGAMENTO", "AWAITING PAYMENT"},
	StateAwaitingRecognition: {"ATTESA RICONOSCIMENTO", "AWAITING RECOGNITION"},
	StateAwaitingDocuments:   {"ATTESA DOCUMENTAZIONE", "AWAITING DOCUMENTS"},
	StateAwaitingProcessing:  {"IN ATTESA LAVORAZIONE", "AWAITING PROCESSING"},
	StateApproved:            {"ATTIVO", "ACTIVE"},
	StateRejected:            {"RESPINTA", "REJECTED"},
	StateCancelled:           {"ANNULLATA", "CANCELLED"},
	StateExpired:             {"SCADUTA", "EXPIRED"},
	StateClosed:              {"CHIUSA", "CLOSED"},
}

// ErrTransition is returned (wrapped in a *TransitionError) for a move the
// state machine does not have.
var ErrTransition = errors.New("enrolment: transition not allowed")

// TransitionError names the refused move.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("enrolment: a request %s cannot become %s", e.From, e.To)
}

func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// Transition checks one move against §6.5; nil when it is allowed.
func Transition(from, to State) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return &TransitionError{From: from, To: to}
}

// Words is the request's state for the back office, in words of the
// page's language: the citizen's status page keeps the spec's capitalised
// labels (§6.5), which read as shouting in the operators' tables. An
// approved request is not yet an active identity (the citizen activates
// it), so it is never shown as active here.
func (s State) Words(lang string) string {
	w, ok := backOfficeStates[s]
	switch {
	case !ok:
		return string(s)
	case lang == "en":
		return w[1]
	}
	return w[0]
}

var backOfficeStates = map[State][2]string{
	StateDraft:               {"Bozza", "Draft"},
	StateAwaitingPayment:     {"In attesa del pagamento", "Awaiting payment"},
	StateAwaitingRecognition: {"In attesa del riconoscimento", "Awaiting recognition"},
	StateAwaitingDocuments:   {"In attesa di documenti", "Awaiting documents"},
	StateAwaitingProcessing:  {"In attesa di verifica", "Awaiting verification"},
	StateApproved:            {"Approvata (l'attivazione spetta al cittadino)", "Approved (the citizen completes the activation)"},
	StateRejected:            {"Respinta", "Rejected"},
	StateCancelled:           {"Annullata", "Cancelled"},
	StateExpired:             {"Scaduta", "Expired"},
	StateClosed:              {"Chiusa", "Closed"},
}
