package lookup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Problem details speak the caller's language: the title, the detail and
// every errors[].message of a problem+json answer are written in Arabic,
// French or English, as the request's Accept-Language asks (RFC 9110
// §12.5.4), and the answer says which in Content-Language. The machine
// fields (type, outcome, reason, errors[].code) never change with the
// language. The texts live in one table, messages, keyed by a stable
// message key; their dynamic parts are {placeholders}. A test walks the
// table (every key in the three languages, with the same placeholders)
// and the code (every key used exists, with the placeholders it needs; no
// problem text written outside the table).
//
// Signed documents are not translated: their canonical JSON is signed.

// Languages of problem details (BCP 47 primary language subtags).
const (
	LangEnglish = "en"
	LangFrench  = "fr"
	LangArabic  = "ar"
)

// DefaultLanguage is the language of problem details when Accept-Language
// is absent or names none of Languages: English, as before the API spoke
// the others.
const DefaultLanguage = LangEnglish

// Languages are the languages of problem details, the default first.
var Languages = []string{LangEnglish, LangFrench, LangArabic}

// texts is one message in every language.
type texts struct{ en, fr, ar string }

func (t texts) in(lang string) string {
	switch lang {
	case LangFrench:
		return t.fr
	case LangArabic:
		return t.ar
	}
	return t.en
}

// msg is a text to be written in the caller's language: a key of messages
// and the values of its {placeholders}, as name, value pairs. A value is a
// string (as is), a quoted string (user input, quoted as each language
// quotes), an integer, a time.Duration (spelled in the language), a msg
// (written in the same language) or a list of msgs.
type msg struct {
	key  string
	args []any
}

// tr is the msg of key with args (name, value, name, value...).
func tr(key string, args ...any) msg { return msg{key: key, args: args} }

// isZero: no text (an optional detail left out).
func (m msg) isZero() bool { return m.key == "" }

// quoted is user input named in a message: "x" in English, « x » in French
// and Arabic; control characters and invalid UTF-8 are escaped as Go
// quotes them.
type quoted string

// list is a list of texts: "a, b" ("a، b" in Arabic).
type list []msg

// semicolons is a list of sentences: "a; b" ("a ; b" in French, "a؛ b" in
// Arabic).
type semicolons []msg

// in writes m in lang. An unknown key is written as the key itself (the
// tests make sure there is none).
func (m msg) in(lang string) string {
	t, ok := messages[m.key]
	if !ok {
		return m.key
	}
	s := t.in(lang)
	if len(m.args) == 0 {
		return s
	}
	pairs := make([]string, 0, len(m.args))
	for i := 0; i+1 < len(m.args); i += 2 {
		name, _ := m.args[i].(string)
		pairs = append(pairs, "{"+name+"}", argText(m.args[i+1], lang))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

func argText(v any, lang string) string {
	switch x := v.(type) {
	case string:
		return x
	case quoted:
		q := strconv.Quote(string(x))
		if lang == LangEnglish {
			return q
		}
		return "«\u00a0" + strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`) + "\u00a0»"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Duration:
		return SpellDuration(x, lang)
	case msg:
		return x.in(lang)
	case list:
		return joinIn(x, lang, map[string]string{LangArabic: "، "}, ", ")
	case semicolons:
		return joinIn(x, lang, map[string]string{LangFrench: " ; ", LangArabic: "؛ "}, "; ")
	}
	return fmt.Sprint(v)
}

func joinIn(ms []msg, lang string, seps map[string]string, def string) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.in(lang)
	}
	sep, ok := seps[lang]
	if !ok {
		sep = def
	}
	return strings.Join(parts, sep)
}

// SpellDuration says d (rounded down to the second) in lang: Go's form in
// English ("5m0s", as the detail always said), "2 h 3 min" in French,
// "ساعتين و3 دقائق" in Arabic; hours past an hour, seconds only under ten
// minutes (a reader needs the order of magnitude, not the tick). The
// clerk console says durations with it too.
func SpellDuration(d time.Duration, lang string) string {
	if lang == LangEnglish {
		return d.String()
	}
	s := int(d / time.Second)
	if s < 0 {
		s = 0
	}
	h, m, sec := s/3600, s%3600/60, s%60
	var parts []string
	unit := frenchUnit
	and := " "
	if lang == LangArabic {
		unit, and = arabicUnit, " و"
	}
	if h > 0 {
		parts = append(parts, unit(h, 'h'))
	}
	if m > 0 {
		parts = append(parts, unit(m, 'm'))
	}
	if sec > 0 && h == 0 && m < 10 || s == 0 {
		parts = append(parts, unit(sec, 's'))
	}
	return strings.Join(parts, and)
}

func frenchUnit(n int, u byte) string {
	return strconv.Itoa(n) + " " + map[byte]string{'h': "h", 'm': "min", 's': "s"}[u]
}

// arabicUnit agrees the counted noun with its number: one and two have
// their own forms (genitive: the durations follow "منذ" and "عن"), three
// to ten the plural, eleven and more (and zero) the singular.
func arabicUnit(n int, u byte) string {
	forms := map[byte][4]string{
		'h': {"ساعة واحدة", "ساعتين", "ساعات", "ساعة"},
		'm': {"دقيقة واحدة", "دقيقتين", "دقائق", "دقيقة"},
		's': {"ثانية واحدة", "ثانيتين", "ثوان", "ثانية"},
	}[u]
	switch {
	case n == 1:
		return forms[0]
	case n == 2:
		return forms[1]
	case n%100 >= 3 && n%100 <= 10:
		return strconv.Itoa(n) + " " + forms[2]
	}
	return strconv.Itoa(n) + " " + forms[3]
}

// problemLanguage picks the language of a problem from an Accept-Language
// header (RFC 9110 §12.5.4). Each of Languages gets the quality of the
// range that names it: the bare range ("ar") if there is one, else the best
// of the longer ones ("ar-DZ": an Arabic reader reads the API's Arabic),
// else that of "*". The highest quality above zero wins; on a tie a
// language named wins over one "*" stands for, and of two named the one
// named first. None: the default (also what "*" alone gives).
func problemLanguage(header string) string {
	if header == "" {
		return DefaultLanguage
	}
	type rng struct {
		tag string
		q   int // thousandths
	}
	var ranges []rng
	for i, part := range strings.Split(header, ",") {
		if i == 32 {
			break // a longer header is not worth reading further
		}
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if q, ok := quality(params); ok && tag != "" {
			ranges = append(ranges, rng{tag, q})
		}
	}
	type choice struct {
		lang     string
		q, pos   int
		explicit bool
	}
	var best *choice
	for _, lang := range Languages {
		c := choice{lang: lang, q: -1}
		bare := false
		for i, r := range ranges {
			switch {
			case r.tag == lang && !bare:
				c.q, c.pos, c.explicit, bare = r.q, i, true, true
			case strings.HasPrefix(r.tag, lang+"-") && !bare && (!c.explicit || r.q > c.q):
				c.q, c.pos, c.explicit = r.q, i, true
			case r.tag == "*" && !c.explicit && c.q < 0:
				c.q, c.pos = r.q, i
			}
		}
		if c.q <= 0 {
			continue
		}
		if best == nil || c.q > best.q || c.q == best.q && c.explicit && (!best.explicit || c.pos < best.pos) {
			best = &c
		}
	}
	if best == nil {
		return DefaultLanguage
	}
	return best.lang
}

// quality reads the weight of a language range ("q=0.8" among its
// parameters, 1 when absent); false when it is not a valid qvalue (the
// range is then ignored).
func quality(params string) (int, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return 1000, true
	}
	for _, p := range strings.Split(params, ";") {
		name, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
		if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		q := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' {
				return 0, false
			}
			scale := 100
			for _, d := range v[2:] {
				if d < '0' || d > '9' {
					return 0, false
				}
				q += int(d-'0') * scale
				scale /= 10
			}
		}
		if q > 1000 {
			return 0, false
		}
		return q, true
	}
	return 1000, true
}

// messages are the texts of problem details, by message key, in English,
// French and Arabic. Keys are stable: a text may be reworded, its key and
// placeholders stay. French and Arabic follow the usage of the Algerian
// administration (NIN, رقم التعريف الوطني; acte de décès, عقد الوفاة;
// centre de données, مركز البيانات).
var messages = map[string]texts{
	// Titles.
	"title.unauthenticated": {"Unauthenticated", "Non authentifié", "لم تتم المصادقة"},
	"title.rate_limited":    {"Too many requests", "Trop de demandes", "طلبات كثيرة جدا"},
	"title.malformed":       {"Malformed request", "Requête mal formée", "طلب غير سليم الصيغة"},
	"title.invalid":         {"Invalid request", "Demande invalide", "طلب غير صالح"},
	"title.denied":          {"Denied by policy", "Refusé par la politique d'accès", "مرفوض بموجب سياسة الوصول"},
	"title.store_unavailable": {"Store unavailable", "Base de consultation indisponible",
		"قاعدة بيانات الاستعلام غير متاحة"},
	"title.issue_failed":      {"Could not issue", "Délivrance impossible", "تعذر تسليم الوثيقة"},
	"title.audit_unavailable": {"Audit log unavailable", "Journal d'audit indisponible", "سجل التدقيق غير متاح"},
	"title.source_stale": {"Sources not followed closely enough to answer", "Sources non suivies d'assez près pour répondre",
		"المصادر غير متابعة عن كثب بما يكفي للإجابة"},
	"title.not_held": {"Not held electronically", "Non détenu électroniquement", "غير متوفرة إلكترونيا"},
	"title.condition_not_met": {"The records held do not support this document",
		"Les enregistrements détenus ne permettent pas de délivrer ce document",
		"السجلات المتوفرة لا تسمح بتسليم هذه الوثيقة"},
	"title.attestation_not_found": {"No such attestation", "Attestation introuvable", "الوثيقة المسلمة غير موجودة"},
	"title.not_found":             {"Not found", "Introuvable", "غير موجود"},
	"title.conflict":              {"Conflict", "Conflit", "تعارض"},

	// Details of the refusals common to every endpoint.
	"detail.unauthenticated": {"a valid API key (Authorization: Bearer) or client certificate is required",
		"une clé d'API valide (Authorization: Bearer) ou un certificat client est requis",
		"يلزم مفتاح واجهة برمجية صالح (Authorization: Bearer) أو شهادة عميل"},
	"detail.rate_limited": {"over this client's rate limit; retry after {after}",
		"débit autorisé de ce client dépassé ; réessayez dans {after}",
		"تجاوز هذا العميل عدد الطلبات المسموح به؛ أعد المحاولة بعد {after}"},
	"detail.audit_unavailable": {"the request could not be recorded in the audit log, so it is not answered; retry later",
		"la demande n'a pas pu être inscrite au journal d'audit, elle reste donc sans réponse ; réessayez plus tard",
		"تعذر تقييد الطلب في سجل التدقيق، لذا لم تتم الإجابة عنه؛ أعد المحاولة لاحقا"},
	"detail.audit_unreadable": {"the audit log could not be read; retry later",
		"le journal d'audit n'a pas pu être lu ; réessayez plus tard",
		"تعذرت قراءة سجل التدقيق؛ أعد المحاولة لاحقا"},
	"detail.store_unavailable": {"the lookup store could not be read; retry later",
		"la base de consultation n'a pas pu être lue ; réessayez plus tard",
		"تعذرت قراءة قاعدة بيانات الاستعلام؛ أعد المحاولة لاحقا"},
	"detail.issue_failed": {"the document could not be signed; retry later",
		"le document n'a pas pu être signé ; réessayez plus tard",
		"تعذر توقيع الوثيقة؛ أعد المحاولة لاحقا"},
	"detail.denied_document": {"client {client} may not ask for {document_type} for purpose {purpose}",
		"le client {client} n'est pas autorisé à demander {document_type} pour le motif {purpose}",
		"لا يحق للعميل {client} طلب {document_type} للغرض {purpose}"},
	"detail.denied_access_log": {"client {client} may not read access logs",
		"le client {client} n'est pas autorisé à consulter les journaux des consultations",
		"لا يحق للعميل {client} قراءة سجلات الاطلاع على البيانات"},

	// Malformed bodies.
	"detail.content_type_json": {"send Content-Type: application/json", "envoyez Content-Type: application/json",
		"أرسل الطلب مع الترويسة Content-Type: application/json"},
	"detail.body_too_large": {"body larger than {max} bytes", "corps de la requête supérieur à {max} octets",
		"يتجاوز حجم محتوى الطلب {max} بايت"},
	"detail.body_not_request": {"body is not a JSON document request: {why}",
		"le corps n'est pas une demande de document en JSON : {why}",
		"محتوى الطلب ليس طلب وثيقة بصيغة JSON: {why}"},
	"detail.body_more_values": {"body holds more than one JSON value", "le corps contient plus d'une valeur JSON",
		"يحتوي محتوى الطلب على أكثر من قيمة JSON واحدة"},
	"body.syntax":        {"invalid JSON at offset {offset}", "JSON invalide à la position {offset}", "صيغة JSON غير صالحة عند الموضع {offset}"},
	"body.truncated":     {"the JSON ends early", "le JSON est incomplet", "ينتهي نص JSON قبل اكتماله"},
	"body.empty":         {"the body is empty", "le corps est vide", "المحتوى فارغ"},
	"body.unknown_field": {"unknown field {field}", "champ inconnu {field}", "حقل غير معروف {field}"},
	"body.field_type": {"{field} must be a string", "{field} doit être une chaîne de caractères",
		"يجب أن تكون قيمة {field} سلسلة نصية"},
	"body.not_object": {`a JSON object {"document_type", "nin", "purpose", "clerk_id"} is expected`,
		`un objet JSON {"document_type", "nin", "purpose", "clerk_id"} est attendu`,
		`المطلوب كائن JSON من الشكل {"document_type", "nin", "purpose", "clerk_id"}`},
	"body.unreadable": {"the body could not be read", "le corps n'a pas pu être lu", "تعذرت قراءة المحتوى"},

	// Invalid fields of a document request.
	"field.nin.format": {"a NIN is 18 digits", "un NIN compte 18 chiffres", "يتكون رقم التعريف الوطني من 18 رقما"},
	"field.document_type.unknown": {"{value} is not a document type (GET /v1/document-types)",
		"{value} n'est pas un type de document (GET /v1/document-types)",
		"نوع الوثيقة {value} غير معروف (GET /v1/document-types)"},
	"field.purpose.unknown": {"{value} is not a purpose (GET /v1/document-types)",
		"{value} n'est pas un motif (GET /v1/document-types)",
		"الغرض {value} غير معروف (GET /v1/document-types)"},
	"field.clerk_id.format": {"1-64 characters: letters, digits, . _ @ : -", "1 à 64 caractères : lettres, chiffres, . _ @ : -",
		"من 1 إلى 64 حرفا: حروف، أرقام، . _ @ : -"},
	// A reason a check gave that this table does not know: its words as
	// they are, in the others said to be an invalid value.
	"field.invalid": {"{said}", "valeur invalide ({said})", "قيمة غير صالحة ({said})"},

	// Not held: why no document.
	"notheld.no_birth_act": {"no birth act is held for this NIN", "aucun acte de naissance n'est détenu pour ce NIN",
		"لا يتوفر أي عقد ميلاد لرقم التعريف الوطني هذا"},
	"notheld.no_marriage_act": {"no marriage act is held for this NIN", "aucun acte de mariage n'est détenu pour ce NIN",
		"لا يتوفر أي عقد زواج لرقم التعريف الوطني هذا"},
	"notheld.no_death_act": {"no death act is held for this NIN", "aucun acte de décès n'est détenu pour ce NIN",
		"لا يتوفر أي عقد وفاة لرقم التعريف الوطني هذا"},
	"notheld.death_act_held": {"a death act is held for this NIN ({date})", "un acte de décès est détenu pour ce NIN ({date})",
		"يتوفر عقد وفاة لرقم التعريف الوطني هذا ({date})"},
	"notheld.death_act_held_undated": {"a death act is held for this NIN", "un acte de décès est détenu pour ce NIN",
		"يتوفر عقد وفاة لرقم التعريف الوطني هذا"},
	"notheld.no_affiliation": {"no affiliation is held for this NIN at any fund",
		"aucune affiliation à une caisse n'est détenue pour ce NIN",
		"لا يتوفر أي انتساب لرقم التعريف الوطني هذا لدى أي صندوق"},
	"notheld.affiliation_open": {"an affiliation at {fund} is {status}", "une affiliation à la {fund} est {status}",
		"يوجد انتساب لدى {fund} حالته: {status}"},
	"affiliation.ACTIVE":    {"ACTIVE", "active", "نشط"},
	"affiliation.SUSPENDED": {"SUSPENDED", "suspendue", "معلق"},
	"notheld.no_employment": {"no employment period is held for this NIN", "aucune période d'emploi n'est détenue pour ce NIN",
		"لا تتوفر أي فترة عمل لرقم التعريف الوطني هذا"},
	"notheld.no_contribution": {"no contribution period is held for this NIN",
		"aucune période de cotisation n'est détenue pour ce NIN",
		"لا تتوفر أي فترة اشتراك لرقم التعريف الوطني هذا"},
	"notheld.unpaid": {"{count} period(s) before {period} are unpaid or partly paid",
		"périodes impayées ou partiellement payées avant {period} : {count}",
		"عدد الفترات غير المدفوعة أو المدفوعة جزئيا قبل {period}: {count}"},

	// Source stale: the data centers an answer reads lag.
	"detail.source_stale": {"the store does not hold these data centers' records as of the last {bound} (this document's freshness bound): {sources}; retry later",
		"la base de consultation ne détient pas les enregistrements de ces centres de données à jour à {bound} près (délai de fraîcheur de ce document) : {sources} ; réessayez plus tard",
		"لا تحوز قاعدة بيانات الاستعلام سجلات مراكز البيانات هذه محينة بتأخر لا يتجاوز {bound} (أجل حداثة هذه الوثيقة): {sources}؛ أعد المحاولة لاحقا"},
	"stale.no_watermark_in_agency": {"{data_center} (no data center of {agency} has a watermark yet)",
		"{data_center} (aucun centre de données de {agency} n'a encore signalé jusqu'où il est à jour)",
		"{data_center} (لم يبلغ بعد أي مركز بيانات تابع للهيئة {agency} عن تاريخ تحيينه)"},
	"stale.no_watermark": {"{data_center} (no watermark yet)", "{data_center} (n'a pas encore signalé jusqu'où il est à jour)",
		"{data_center} (لم يبلغ بعد عن تاريخ تحيينه)"},
	"stale.behind": {"{data_center} (everything up to {watermark} applied, {age} ago)",
		"{data_center} (tout est appliqué jusqu'au {watermark}, il y a {age})",
		"{data_center} (كل السجلات مطبقة إلى غاية {watermark}، أي منذ {age})"},

	// Portfolios.
	"detail.denied_portfolio_agency": {"client {client} may manage only its own portfolio (/v1/portfolios/{client}/...)",
		"le client {client} ne peut gérer que son propre portefeuille (/v1/portfolios/{client}/...)",
		"لا يحق للعميل {client} تسيير أي محفظة غير محفظته (/v1/portfolios/{client}/...)"},
	"detail.denied_portfolio_purpose": {"client {client} may not hold citizens for purpose {purpose}",
		"le client {client} n'est pas autorisé à suivre des citoyens pour le motif {purpose}",
		"لا يحق للعميل {client} متابعة مواطنين للغرض {purpose}"},
	"detail.field_errors": {"{errors}", "{errors}", "{errors}"},
	"detail.field_error":  {"{field}: {message}", "{field} : {message}", "{field}: {message}"},
	"detail.member_not_json": {`body is not a JSON member {"kinds": [...], "purpose": "..."}`,
		`le corps n'est pas un membre JSON {"kinds": [...], "purpose": "..."}`,
		`المحتوى ليس عضوا بصيغة JSON {"kinds": [...], "purpose": "..."}`},
	"detail.bulk_content_type": {"send a JSON array (application/json) or JSON lines (application/x-ndjson)",
		"envoyez un tableau JSON (application/json) ou des lignes JSON (application/x-ndjson)",
		"أرسل مصفوفة JSON (application/json) أو أسطر JSON (application/x-ndjson)"},
	"detail.bulk_too_large": {"at most {members} members and {bytes} bytes per upload: {why}",
		"au plus {members} membres et {bytes} octets par envoi : {why}",
		"الحد الأقصى لكل إرسال {members} عضو و{bytes} بايت: {why}"},
	"bulk.too_many": {"more than {max} members", "plus de {max} membres", "أكثر من {max} عضو"},
	"detail.bulk_not_array": {"body is not a JSON array of members", "le corps n'est pas un tableau JSON de membres",
		"المحتوى ليس مصفوفة JSON من الأعضاء"},
	"detail.portfolio_newer": {"the entry holds a change stamped later than now (askonce.portfolio.<agency> producer clock ahead)",
		"l'entrée porte une modification datée d'après maintenant (horloge d'un producteur askonce.portfolio.<agency> en avance)",
		"يحمل القيد تعديلا مؤرخا بعد اللحظة الحالية (ساعة أحد منتجي askonce.portfolio.<agency> متقدمة)"},
	"detail.member_not_found": {"the citizen is not in this portfolio", "le citoyen ne figure pas dans ce portefeuille",
		"المواطن غير موجود في هذه المحفظة"},
	"field.portfolio.newer": {"the entry holds a change stamped later than now", "l'entrée porte une modification datée d'après maintenant",
		"يحمل القيد تعديلا مؤرخا بعد اللحظة الحالية"},
	"field.nin.mismatch": {"the body's nin differs from the path's", "le nin du corps diffère de celui du chemin",
		"قيمة nin في المحتوى تختلف عن قيمته في المسار"},
	"field.limit.range": {"1 to {max}", "de 1 à {max}", "من 1 إلى {max}"},
	"field.op.unknown":  {"op is put or delete", "op vaut put ou delete", "قيمة op هي put أو delete"},
	"field.line.malformed": {`not a JSON member {"nin", "kinds", "purpose", "op"}`,
		`ce n'est pas un membre JSON {"nin", "kinds", "purpose", "op"}`,
		`ليس عضوا بصيغة JSON {"nin", "kinds", "purpose", "op"}`},
	"field.purpose.notify_unknown": {"{value} is not a notification purpose (pension-death-watch, insured-events, unemployment-events)",
		"{value} n'est pas un motif de notification (pension-death-watch, insured-events, unemployment-events)",
		"غرض الإعلام {value} غير معروف (pension-death-watch, insured-events, unemployment-events)"},
	"field.kinds.empty": {"subscribe to at least one kind of change", "abonnez-vous à au moins un type de changement",
		"اشترك في نوع واحد على الأقل من التغييرات"},
	"field.kinds.unknown": {"{value} is not a kind of change", "{value} n'est pas un type de changement",
		"نوع التغيير {value} غير معروف"},
	"field.kinds.purpose": {"purpose {purpose} does not cover {kind}", "le motif {purpose} ne couvre pas {kind}",
		"الغرض {purpose} لا يشمل {kind}"},
}
