package schemas

import "time"

// Change kinds of a notification (org.askonce.notify.ChangeKind) and of a
// portfolio subscription.
const (
	ChangeUnknown             = "UNKNOWN"
	ChangeDeath               = "DEATH"
	ChangeMarriage            = "MARRIAGE"
	ChangeDivorce             = "DIVORCE"
	ChangeBirthOfChild        = "BIRTH_OF_CHILD"
	ChangeEmploymentStart     = "EMPLOYMENT_START"
	ChangeEmploymentEnd       = "EMPLOYMENT_END"
	ChangeContributionArrears = "CONTRIBUTION_ARREARS"
)

// ChangeKinds are the kinds an agency may subscribe to, in schema order.
var ChangeKinds = []string{ChangeDeath, ChangeMarriage, ChangeDivorce, ChangeBirthOfChild,
	ChangeEmploymentStart, ChangeEmploymentEnd, ChangeContributionArrears}

// Notification is a value of askonce.notify.<agency> (notification.v1.avsc).
type Notification struct {
	ID         string         `avro:"id" json:"id"`
	Agency     string         `avro:"agency" json:"agency"`
	NIN        string         `avro:"nin" json:"nin"`
	Kind       string         `avro:"kind" json:"kind"`
	OccurredOn time.Time      `avro:"occurred_on" json:"occurred_on"`
	Correction bool           `avro:"correction" json:"correction"`
	Purpose    string         `avro:"purpose" json:"purpose"`
	Provenance Provenance     `avro:"provenance" json:"provenance"`
	Details    *ChangeDetails `avro:"details" json:"details,omitempty"`
	NotifiedAt time.Time      `avro:"notified_at" json:"notified_at"`
}

// ChangeDetails are the kind-specific facts of a notification.
type ChangeDetails struct {
	RelatedNIN        *string `avro:"related_nin" json:"related_nin,omitempty"`
	Fund              *string `avro:"fund" json:"fund,omitempty"`
	EmployerID        *string `avro:"employer_id" json:"employer_id,omitempty"`
	Period            *string `avro:"period" json:"period,omitempty"`
	AmountOutstanding *int64  `avro:"amount_outstanding" json:"amount_outstanding,omitempty"`
}

// Portfolio operations (org.askonce.portfolio.PortfolioOp).
const (
	PortfolioPut    = "PUT"
	PortfolioDelete = "DELETE"
)

// PortfolioChange is a value of askonce.portfolio.<agency> (portfolio.v1.avsc).
type PortfolioChange struct {
	Agency      string    `avro:"agency" json:"agency"`
	NIN         string    `avro:"nin" json:"nin"`
	Op          string    `avro:"op" json:"op"`
	Kinds       []string  `avro:"kinds" json:"kinds"`
	Purpose     string    `avro:"purpose" json:"purpose"`
	RequestedAt time.Time `avro:"requested_at" json:"requested_at"`
	RequestID   string    `avro:"request_id" json:"request_id"`
}
