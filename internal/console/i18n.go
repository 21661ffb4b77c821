package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/askonce/askonce/internal/lookup"
)

// Lang is one language of the console: its messages, the names of the
// papers, purposes and fields the API speaks of by code, and its writing
// direction. The API's catalog is in French (papers) and English
// (descriptions); clerks read French or Arabic, so the console carries its
// own labels, keyed by the API's codes (a test keeps them complete).
type Lang struct {
	Code     string // BCP 47: "fr" or "ar"
	Dir      string // "ltr" or "rtl"
	Name     string // in its own language, for the switch
	msg      map[string]string
	papers   map[string]string // document type -> paper title; empty for French (the API's)
	purposes map[string]string // purpose code -> label
	fields   map[string]string // field or nested key -> label
	yes, no  string
}

// Duration says d (rounded down to the second) in this language, as the
// API says it in its problems: "12 min 5 s", "12 دقيقة و5 ثوان".
func (l *Lang) Duration(d time.Duration) string { return lookup.SpellDuration(d, l.Code) }

// T is the message key in this language; the key itself when missing (a
// test checks that every key the templates use exists in both).
func (l *Lang) T(key string) string {
	if s, ok := l.msg[key]; ok {
		return s
	}
	return key
}

// Paper is the title of the paper of a document type; fr is the API's
// (French) title, used as is in French and when no translation exists.
func (l *Lang) Paper(docType, fr string) string {
	if s, ok := l.papers[docType]; ok {
		return s
	}
	if fr != "" {
		return fr
	}
	return docType
}

// Purpose is the label of a purpose code.
func (l *Lang) Purpose(code string) string {
	if s, ok := l.purposes[code]; ok {
		return s
	}
	return code
}

// Field is the label of a field (or of a key inside one).
func (l *Lang) Field(name string) string {
	if s, ok := l.fields[name]; ok {
		return s
	}
	return strings.ReplaceAll(name, "_", " ")
}

// HasField reports whether name has a label (for the completeness test).
func (l *Lang) HasField(name string) bool { _, ok := l.fields[name]; return ok }

// HasPurpose reports whether code has a label.
func (l *Lang) HasPurpose(code string) bool { _, ok := l.purposes[code]; return ok }

// HasMessage reports whether key is a message.
func (l *Lang) HasMessage(key string) bool { _, ok := l.msg[key]; return ok }

// HasPaper reports whether docType has a title of its own in this language.
func (l *Lang) HasPaper(docType string) bool { _, ok := l.papers[docType]; return ok }

// Langs are the console's languages, French first (the default).
func Langs() []*Lang { return []*Lang{french(), arabic()} }

const langCookie = "askonce_lang"

// pickLang: ?lang= (which the switch sets, and which is then remembered in
// a cookie), else the cookie, else Accept-Language, else French.
func pickLang(w http.ResponseWriter, r *http.Request, langs []*Lang, secure bool) *Lang {
	if q := r.URL.Query().Get("lang"); q != "" {
		if l := findLang(langs, q); l != nil {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l.Code, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
			return l
		}
	}
	return clerkLang(r, langs)
}

func findLang(langs []*Lang, code string) *Lang {
	for _, l := range langs {
		if l.Code == code {
			return l
		}
	}
	return nil
}

// clerkLang is the language the clerk reads the console in: ?lang=, else
// the cookie, else Accept-Language, else French. The console asks the API
// for its problem details in it.
func clerkLang(r *http.Request, langs []*Lang) *Lang {
	find := func(code string) *Lang { return findLang(langs, code) }
	if l := find(r.URL.Query().Get("lang")); l != nil {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l := find(c.Value); l != nil {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if l := find(base); l != nil {
			return l
		}
	}
	return langs[0]
}

func french() *Lang {
	return &Lang{Code: "fr", Dir: "ltr", Name: "Français", yes: "Oui", no: "Non",
		papers: map[string]string{},
		msg: map[string]string{
			"app":               "Console des guichets askonce",
			"skip":              "Aller au contenu",
			"lang.switch":       "Langue",
			"signin.title":      "Connexion du guichet",
			"signin.intro":      "Entrez la clé d'API de votre organisme et votre identifiant de guichetier. La clé reste sur le serveur, jamais dans le navigateur.",
			"signin.key":        "Clé d'API de l'organisme",
			"signin.clerk":      "Identifiant du guichetier",
			"signin.clerk.hint": "1 à 64 caractères : lettres, chiffres, . _ @ : -",
			"signin.submit":     "Se connecter",
			"signin.bad":        "Clé d'API refusée : vérifiez-la auprès de votre administrateur.",
			"signin.badclerk":   "Identifiant de guichetier invalide (1 à 64 caractères : lettres, chiffres, . _ @ : -).",
			"signin.expired":    "Votre session a expiré : reconnectez-vous.",
			"signin.out":        "Vous êtes déconnecté.",
			"signin.full":       "Trop de sessions ouvertes : réessayez dans quelques minutes.",
			"signin.limited":    "Trop de tentatives : patientez une minute.",
			"signout":           "Se déconnecter",
			"signedin":          "Connecté",
			"clerk":             "Guichetier",
			"form.title":        "Demander un document",
			"form.nin":          "NIN du citoyen (18 chiffres)",
			"form.type":         "Document",
			"form.purpose":      "Motif (procédure)",
			"form.clerk":        "Identifiant du guichetier",
			"form.submit":       "Demander",
			"form.allowed":      "Votre organisme peut demander",
			"form.notallowed":   "(non autorisé pour votre organisme)",
			"form.csrf":         "Le formulaire a expiré : réessayez.",
			"answer.title":      "Réponse",
			"answer.request":    "Demande",
			"answer.requestid":  "Référence de la demande",
			"issued.title":      "Document délivré",
			"issued.lead":       "Ce document remplace le papier ci-dessous : ne le demandez pas au citoyen.",
			"doc.replaces":      "Remplace",
			"doc.id":            "Numéro du document",
			"doc.issued":        "Délivré le",
			"doc.asof":          "Données à jour au",
			"doc.valid":         "Valable jusqu'au",
			"doc.novalidity":    "Sans limite de validité",
			"doc.issuer":        "Émetteur",
			"doc.agency":        "Organisme demandeur",
			"doc.purpose":       "Motif",
			"doc.fields":        "Contenu",
			"doc.provenance":    "Provenance des données",
			"prov.agency":       "Organisme",
			"prov.dc":           "Centre de données",
			"prov.key":          "Clé source",
			"prov.version":      "Version",
			"prov.time":         "Date de l'événement",
			"prov.records":      "enregistrements",
			"doc.code":          "Code de vérification",
			"doc.verify":        "Vérifier ce document",
			"doc.verifyhint":    "Scannez le code QR ou ouvrez l'adresse et saisissez le code de vérification.",
			"doc.signature":     "Signature électronique Ed25519, clé",
			"doc.qr":            "Code QR de vérification du document",
			"print":             "Imprimer",
			"notheld.title":     "Non détenu électroniquement",
			"notheld.ask":       "Demandez au citoyen le document papier :",
			"notheld.why":       "Pourquoi",
			"notheld.stale":     "Centres de données en retard",
			"notheld.asof":      "Constat fait sur les données à jour au",
			"reason.no_record":  "Aucun enregistrement de cette personne n'est détenu électroniquement par l'organisme qui délivre ce document.",
			"reason.condition_not_met": "Des enregistrements sont détenus, mais ils ne permettent pas de délivrer ce document " +
				"(par exemple : un acte de décès est enregistré, ou des cotisations sont impayées).",
			"reason.source_stale": "La plateforme ne détient pas encore les enregistrements de ces centres de données à une date assez récente pour délivrer ce document. " +
				"Ce n'est pas une absence : le document n'est ni refusé ni introuvable, il ne peut simplement pas être délivré sur des données trop anciennes. Réessayez dans un instant.",
			"stale.title":             "Données pas encore à jour : réessayez dans un instant",
			"stale.requested":         "Document demandé :",
			"stale.retry":             "Réessayez dans %s.",
			"stale.again":             "Réessayer la même demande",
			"stale.notaway":           "Ne renvoyez pas le citoyen et ne lui demandez pas le papier pour cette raison : rien n'indique que ses données manquent.",
			"stale.persist":           "Si le retard persiste après plusieurs essais, signalez-le à l'exploitant de la plateforme avec la référence de la demande ci-dessous.",
			"stale.dc.lag":            "données à jour au %s, soit %s de retard au moment de la demande",
			"stale.dc.none":           "aucune donnée de ce centre n'est encore à jour dans la plateforme",
			"stale.dc.none_of_agency": "aucun centre de données de l'organisme %s n'est encore à jour dans la plateforme",
			"doc.asof.hint":           "tout ce que les organismes avaient enregistré avant cet instant est pris en compte",
			"denied.title":            "Refusé par la politique d'accès",
			"denied.lead":             "Votre organisme n'est pas autorisé à demander ce document pour ce motif. Choisissez un motif autorisé ou adressez le citoyen à l'organisme compétent.",
			"invalid.title":           "Demande invalide",
			"invalid.lead":            "Corrigez les champs signalés puis recommencez.",
			"limited.title":           "Trop de demandes",
			"limited.lead":            "Votre organisme a dépassé son débit autorisé : réessayez dans un instant.",
			"unavailable.title":       "Service momentanément indisponible",
			"unavailable.lead":        "La demande n'a pas pu aboutir : réessayez plus tard. Aucun document n'a été délivré.",
			"err.nin":                 "Le NIN compte exactement 18 chiffres.",
			"err.document_type":       "Choisissez un document de la liste.",
			"err.purpose":             "Choisissez un motif de la liste.",
			"err.clerk_id":            "1 à 64 caractères : lettres, chiffres, . _ @ : -",
			"verify.title":            "Vérifier un document askonce",
			"verify.intro":            "Saisissez le numéro et le code de vérification imprimés sur le document, ou scannez son code QR.",
			"verify.id":               "Numéro du document",
			"verify.code":             "Code de vérification",
			"verify.code.hint":        "16 caractères, par exemple ABCD-EFGH-IJKL-MNOP",
			"verify.submit":           "Vérifier",
			"verify.ok":               "Document authentique",
			"verify.ok.lead":          "Ce document a bien été délivré par askonce et son contenu n'a pas été modifié. Comparez-le avec le papier présenté :",
			"verify.expired":          "Document authentique mais expiré",
			"verify.expired.lead":     "Ce document a bien été délivré par askonce, mais sa validité a pris fin. Comparez-le avec le papier présenté :",
			"verify.bad":              "Document non authentique",
			"verify.bad.lead":         "Aucun document ne correspond à ce numéro et à ce code. Saisissez exactement le code imprimé sur le document ; s'il ne correspond toujours pas, le papier présenté n'est pas authentique.",
			"verify.nin":              "NIN (masqué)",
			"verify.paste":            "Ou collez un document signé (JSON)",
			"verify.paste.label":      "Document signé (JSON : document et signature)",
			"verify.paste.submit":     "Vérifier la signature",
			"verify.sig.ok":           "Signature valide",
			"verify.sig.ok.lead":      "La signature électronique de ce document est valide : il a été signé par askonce et n'a pas été modifié depuis.",
			"verify.sig.bad":          "Signature invalide",
			"verify.sig.bad.lead":     "La signature ne correspond pas au document : il a été modifié après sa signature, ou il n'a pas été signé par askonce.",
			"verify.sig.malformed":    "Ce texte n'est pas un document signé askonce (JSON avec « document » et « signature »).",
			"verify.limited":          "Trop de vérifications depuis cette adresse : patientez une minute.",
			"verify.again":            "Vérifier un autre document",
			"csrf.title":              "Formulaire expiré",
			"csrf.lead":               "Le formulaire a expiré ou ne vient pas de cette console : rechargez la page et recommencez.",
			"notfound":                "Page introuvable",
			"sex.M":                   "Masculin",
			"sex.F":                   "Féminin",
			"status.current":          "En cours",
			"status.former":           "Dissous",
			"status.ACTIVE":           "Active",
			"status.SUSPENDED":        "Suspendue",
			"status.CLOSED":           "Clôturée",
			"status.OPEN":             "En cours",
			"status.PAID":             "Payé",
			"status.UNPAID":           "Impayé",
			"status.PARTIAL":          "Partiel",
		},
		purposes: map[string]string{
			"pension-life-proof":        "CNR : preuve de vie annuelle d'un retraité",
			"pension-award":             "CNR : attribution d'une pension de retraite ou de réversion",
			"insured-registration":      "CNAS/CASNOS : immatriculation d'un assuré et de ses ayants droit",
			"benefit-eligibility":       "CNAS : droits aux prestations maladie, maternité, accident du travail",
			"unemployment-registration": "ANEM/CNAC : inscription d'un demandeur d'emploi, assurance chômage",
			"civil-status-issuance":     "APC : délivrance d'un extrait d'état civil à la demande du citoyen",
			"citizen-access-log":        "Portail citoyen : qui a consulté mes données",
			"pension-death-watch":       "CNR : être informé du décès, mariage ou divorce d'un retraité",
			"insured-events":            "CNAS/CASNOS : être informé des événements des assurés",
			"unemployment-events":       "ANEM/CNAC : être informé des embauches et fins d'emploi",
		},
		fields: map[string]string{
			"nin": "NIN", "surname_latin": "Nom", "surname_arabic": "Nom (arabe)", "first_names_latin": "Prénoms",
			"first_names_arabic": "Prénoms (arabe)", "birth_date": "Date de naissance", "birth_date_presumed": "Date de naissance présumée",
			"birth_time": "Heure de naissance", "sex": "Sexe", "birth_commune": "Commune de naissance", "birth_wilaya": "Wilaya de naissance",
			"father_first_name": "Prénom du père", "mother_name": "Nom et prénoms de la mère", "marital_surname_latin": "Nom marital",
			"act": "Acte", "marginal_notes": "Mentions marginales", "spouses": "Conjoints", "children": "Enfants", "marriages": "Mariages",
			"date_of_death": "Date du décès", "place_commune": "Commune du décès", "alive": "En vie", "affiliations": "Affiliations",
			"funds_checked": "Caisses consultées", "past_affiliations": "Affiliations passées", "nss": "NSS", "periods": "Périodes",
			"up_to_date": "À jour des cotisations", "last_period": "Dernière période", "periods_checked": "Périodes vérifiées",
			"funds": "Caisses", "totals": "Totaux",
			"year": "Année", "number": "Numéro", "status": "Statut", "fund": "Caisse", "commune": "Commune", "start_date": "Début",
			"end_date": "Fin", "wage_base": "Salaire soumis", "marriage_date": "Date du mariage", "employer_id": "N° employeur",
			"amount_paid": "Montant payé", "amount_due": "Montant dû", "spouse_surname_latin": "Nom du conjoint",
			"spouse_nin": "NIN du conjoint", "spouse_first_names_latin": "Prénoms du conjoint", "registered_on": "Enregistré le",
			"regime": "Régime", "position": "Poste", "period": "Période", "latin": "Latin", "arabic": "Arabe",
			"employer_nif": "NIF de l'employeur", "employer_name": "Employeur", "dissolved_by_divorce": "Dissous par divorce",
			"wages": "Salaires", "due": "Dû", "paid": "Payé",
		},
	}
}

func arabic() *Lang {
	return &Lang{Code: "ar", Dir: "rtl", Name: "العربية", yes: "نعم", no: "لا",
		papers: map[string]string{
			"birth-certificate":           "مستخرج عقد الميلاد رقم 12",
			"family-record":               "البطاقة العائلية للحالة المدنية",
			"marriage-certificate":        "عقد الزواج",
			"death-certificate":           "عقد الوفاة",
			"life-certificate":            "شهادة الحياة (معاشات الصندوق الوطني للتقاعد)",
			"affiliation-certificate":     "شهادة الانتساب (CNAS/CASNOS)",
			"non-affiliation-certificate": "شهادة عدم الانتساب",
			"employment-certificate":      "شهادة العمل / كشف فترات العمل",
			"contribution-status":         "شهادة تسوية وضعية الاشتراكات",
			"contributions-statement":     "كشف الأجور والاشتراكات",
		},
		msg: map[string]string{
			"app":                      "منصة شبابيك askonce",
			"skip":                     "الانتقال إلى المحتوى",
			"lang.switch":              "اللغة",
			"signin.title":             "دخول الشباك",
			"signin.intro":             "أدخل مفتاح الواجهة البرمجية لهيئتك ومعرف الموظف. يبقى المفتاح في الخادم ولا يحفظ في المتصفح أبدا.",
			"signin.key":               "مفتاح الواجهة البرمجية للهيئة",
			"signin.clerk":             "معرف موظف الشباك",
			"signin.clerk.hint":        "من 1 إلى 64 حرفا: حروف، أرقام، . _ @ : -",
			"signin.submit":            "دخول",
			"signin.bad":               "المفتاح مرفوض: تحقق منه لدى المسؤول.",
			"signin.badclerk":          "معرف الموظف غير صالح (من 1 إلى 64 حرفا: حروف، أرقام، . _ @ : -).",
			"signin.expired":           "انتهت صلاحية الجلسة: يرجى الدخول من جديد.",
			"signin.out":               "تم تسجيل الخروج.",
			"signin.full":              "عدد الجلسات المفتوحة كبير جدا: أعد المحاولة بعد بضع دقائق.",
			"signin.limited":           "محاولات كثيرة: انتظر دقيقة.",
			"signout":                  "خروج",
			"signedin":                 "متصل",
			"clerk":                    "الموظف",
			"form.title":               "طلب وثيقة",
			"form.nin":                 "رقم التعريف الوطني للمواطن (18 رقما)",
			"form.type":                "الوثيقة",
			"form.purpose":             "الغرض (الإجراء)",
			"form.clerk":               "معرف موظف الشباك",
			"form.submit":              "طلب",
			"form.allowed":             "يمكن لهيئتك أن تطلب",
			"form.notallowed":          "(غير مسموح لهيئتك)",
			"form.csrf":                "انتهت صلاحية الاستمارة: أعد المحاولة.",
			"answer.title":             "الإجابة",
			"answer.request":           "الطلب",
			"answer.requestid":         "مرجع الطلب",
			"issued.title":             "وثيقة مسلمة",
			"issued.lead":              "هذه الوثيقة تعوض الوثيقة الورقية أدناه: لا تطلبها من المواطن.",
			"doc.replaces":             "تعوض",
			"doc.id":                   "رقم الوثيقة",
			"doc.issued":               "تاريخ التسليم",
			"doc.asof":                 "البيانات محينة في",
			"doc.valid":                "صالحة إلى غاية",
			"doc.novalidity":           "غير محددة الصلاحية",
			"doc.issuer":               "الجهة المصدرة",
			"doc.agency":               "الهيئة الطالبة",
			"doc.purpose":              "الغرض",
			"doc.fields":               "المحتوى",
			"doc.provenance":           "مصدر البيانات",
			"prov.agency":              "الهيئة",
			"prov.dc":                  "مركز البيانات",
			"prov.key":                 "مفتاح المصدر",
			"prov.version":             "النسخة",
			"prov.time":                "تاريخ الحدث",
			"prov.records":             "سجلات",
			"doc.code":                 "رمز التحقق",
			"doc.verify":               "التحقق من هذه الوثيقة",
			"doc.verifyhint":           "امسح رمز QR أو افتح العنوان وأدخل رمز التحقق.",
			"doc.signature":            "توقيع إلكتروني Ed25519، المفتاح",
			"doc.qr":                   "رمز QR للتحقق من الوثيقة",
			"print":                    "طباعة",
			"notheld.title":            "غير متوفرة إلكترونيا",
			"notheld.ask":              "اطلب من المواطن الوثيقة الورقية:",
			"notheld.why":              "السبب",
			"notheld.stale":            "مراكز البيانات المتأخرة",
			"notheld.asof":             "تمت المعاينة على البيانات المحينة في",
			"reason.no_record":         "لا يوجد أي سجل إلكتروني لهذا الشخص لدى الهيئة التي تصدر هذه الوثيقة.",
			"reason.condition_not_met": "توجد سجلات، لكنها لا تسمح بإصدار هذه الوثيقة (مثلا: عقد وفاة مسجل، أو اشتراكات غير مدفوعة).",
			"reason.source_stale": "لا تحوز المنصة بعد سجلات مراكز البيانات هذه محينة بتاريخ قريب بما يكفي لتسليم هذه الوثيقة. " +
				"هذا ليس غيابا للبيانات: الوثيقة غير مرفوضة وليست مفقودة، لكن لا يمكن تسليمها على أساس بيانات قديمة. أعد المحاولة بعد لحظة.",
			"stale.title":             "البيانات غير محينة بعد: أعد المحاولة بعد لحظة",
			"stale.requested":         "الوثيقة المطلوبة:",
			"stale.retry":             "أعد المحاولة بعد %s.",
			"stale.again":             "إعادة نفس الطلب",
			"stale.notaway":           "لا تصرف المواطن ولا تطلب منه الوثيقة الورقية لهذا السبب: لا شيء يدل على أن بياناته غير موجودة.",
			"stale.persist":           "إذا استمر التأخر بعد عدة محاولات، أبلغ المسؤول عن تشغيل المنصة مع ذكر مرجع الطلب أدناه.",
			"stale.dc.lag":            "بيانات محينة في %s، أي بتأخر %s وقت الطلب",
			"stale.dc.none":           "لا توجد بعد في المنصة بيانات محينة من هذا المركز",
			"stale.dc.none_of_agency": "لا يوجد بعد في المنصة أي مركز بيانات محين للهيئة %s",
			"doc.asof.hint":           "كل ما سجلته الهيئات قبل هذا التاريخ مأخوذ في الحسبان",
			"denied.title":            "مرفوض بموجب سياسة الوصول",
			"denied.lead":             "هيئتك غير مسموح لها بطلب هذه الوثيقة لهذا الغرض. اختر غرضا مسموحا به أو وجه المواطن إلى الهيئة المختصة.",
			"invalid.title":           "طلب غير صالح",
			"invalid.lead":            "صحح الحقول المشار إليها ثم أعد المحاولة.",
			"limited.title":           "طلبات كثيرة",
			"limited.lead":            "تجاوزت هيئتك عدد الطلبات المسموح به: أعد المحاولة بعد لحظة.",
			"unavailable.title":       "الخدمة غير متوفرة مؤقتا",
			"unavailable.lead":        "تعذر إتمام الطلب: أعد المحاولة لاحقا. لم يتم تسليم أي وثيقة.",
			"err.nin":                 "يتكون رقم التعريف الوطني من 18 رقما بالضبط.",
			"err.document_type":       "اختر وثيقة من القائمة.",
			"err.purpose":             "اختر غرضا من القائمة.",
			"err.clerk_id":            "من 1 إلى 64 حرفا: حروف، أرقام، . _ @ : -",
			"verify.title":            "التحقق من وثيقة askonce",
			"verify.intro":            "أدخل رقم الوثيقة ورمز التحقق المطبوعين عليها، أو امسح رمز QR.",
			"verify.id":               "رقم الوثيقة",
			"verify.code":             "رمز التحقق",
			"verify.code.hint":        "16 حرفا، مثلا ABCD-EFGH-IJKL-MNOP",
			"verify.submit":           "تحقق",
			"verify.ok":               "وثيقة أصلية",
			"verify.ok.lead":          "هذه الوثيقة صادرة فعلا عن askonce ولم يتم تعديل محتواها. قارنها بالوثيقة الورقية المقدمة:",
			"verify.expired":          "وثيقة أصلية لكنها منتهية الصلاحية",
			"verify.expired.lead":     "هذه الوثيقة صادرة فعلا عن askonce لكن صلاحيتها انتهت. قارنها بالوثيقة الورقية المقدمة:",
			"verify.bad":              "وثيقة غير أصلية",
			"verify.bad.lead":         "لا توجد أي وثيقة تطابق هذا الرقم وهذا الرمز. أدخل الرمز المطبوع على الوثيقة بالضبط؛ إذا لم يتطابق، فالوثيقة المقدمة غير أصلية.",
			"verify.nin":              "رقم التعريف الوطني (مخفي جزئيا)",
			"verify.paste":            "أو الصق وثيقة موقعة (JSON)",
			"verify.paste.label":      "وثيقة موقعة (JSON: الوثيقة والتوقيع)",
			"verify.paste.submit":     "التحقق من التوقيع",
			"verify.sig.ok":           "توقيع صحيح",
			"verify.sig.ok.lead":      "التوقيع الإلكتروني لهذه الوثيقة صحيح: وقعتها askonce ولم تعدل منذ ذلك.",
			"verify.sig.bad":          "توقيع غير صحيح",
			"verify.sig.bad.lead":     "التوقيع لا يطابق الوثيقة: تم تعديلها بعد التوقيع، أو لم توقعها askonce.",
			"verify.sig.malformed":    "هذا النص ليس وثيقة موقعة من askonce (JSON يحتوي على «document» و«signature»).",
			"verify.limited":          "عمليات تحقق كثيرة من هذا العنوان: انتظر دقيقة.",
			"verify.again":            "التحقق من وثيقة أخرى",
			"csrf.title":              "انتهت صلاحية الاستمارة",
			"csrf.lead":               "انتهت صلاحية الاستمارة أو أنها لم تصدر عن هذه المنصة: أعد تحميل الصفحة ثم أعد المحاولة.",
			"notfound":                "الصفحة غير موجودة",
			"sex.M":                   "ذكر",
			"sex.F":                   "أنثى",
			"status.current":          "قائم",
			"status.former":           "منحل",
			"status.ACTIVE":           "نشط",
			"status.SUSPENDED":        "معلق",
			"status.CLOSED":           "مغلق",
			"status.OPEN":             "جار",
			"status.PAID":             "مدفوع",
			"status.UNPAID":           "غير مدفوع",
			"status.PARTIAL":          "مدفوع جزئيا",
		},
		purposes: map[string]string{
			"pension-life-proof":        "الصندوق الوطني للتقاعد: إثبات الحياة السنوي للمتقاعد",
			"pension-award":             "الصندوق الوطني للتقاعد: منح معاش التقاعد أو معاش ذوي الحقوق",
			"insured-registration":      "CNAS/CASNOS: تسجيل المؤمن له وذوي حقوقه",
			"benefit-eligibility":       "CNAS: الحق في أداءات المرض والأمومة وحوادث العمل",
			"unemployment-registration": "ANEM/CNAC: تسجيل طالب عمل، التأمين عن البطالة",
			"civil-status-issuance":     "البلدية: تسليم مستخرج من الحالة المدنية بطلب من المواطن",
			"citizen-access-log":        "بوابة المواطن: من اطلع على بياناتي",
			"pension-death-watch":       "الصندوق الوطني للتقاعد: الإعلام بوفاة أو زواج أو طلاق متقاعد",
			"insured-events":            "CNAS/CASNOS: الإعلام بأحداث المؤمن لهم",
			"unemployment-events":       "ANEM/CNAC: الإعلام ببداية ونهاية العمل",
		},
		fields: map[string]string{
			"nin": "رقم التعريف الوطني", "surname_latin": "اللقب (بالحروف اللاتينية)", "surname_arabic": "اللقب",
			"first_names_latin": "الأسماء (بالحروف اللاتينية)", "first_names_arabic": "الأسماء", "birth_date": "تاريخ الميلاد",
			"birth_date_presumed": "تاريخ ميلاد مفترض", "birth_time": "ساعة الميلاد", "sex": "الجنس", "birth_commune": "بلدية الميلاد",
			"birth_wilaya": "ولاية الميلاد", "father_first_name": "اسم الأب", "mother_name": "لقب واسم الأم",
			"marital_surname_latin": "لقب الزوج", "act": "العقد", "marginal_notes": "البيانات الهامشية", "spouses": "الأزواج",
			"children": "الأبناء", "marriages": "عقود الزواج", "date_of_death": "تاريخ الوفاة", "place_commune": "بلدية الوفاة",
			"alive": "على قيد الحياة", "affiliations": "الانتسابات", "funds_checked": "الصناديق التي تم فحصها",
			"past_affiliations": "الانتسابات السابقة", "nss": "رقم الضمان الاجتماعي", "periods": "الفترات",
			"up_to_date": "مسدد الاشتراكات", "last_period": "آخر فترة", "periods_checked": "عدد الفترات المفحوصة",
			"funds": "الصناديق", "totals": "المجاميع",
			"year": "السنة", "number": "الرقم", "status": "الحالة", "fund": "الصندوق", "commune": "البلدية", "start_date": "تاريخ البداية",
			"end_date": "تاريخ النهاية", "wage_base": "الأجر الخاضع", "marriage_date": "تاريخ الزواج", "employer_id": "رقم المستخدم",
			"amount_paid": "المبلغ المدفوع", "amount_due": "المبلغ المستحق", "spouse_surname_latin": "لقب الزوج(ة)",
			"spouse_nin": "رقم تعريف الزوج(ة)", "spouse_first_names_latin": "اسم الزوج(ة)", "registered_on": "تاريخ التسجيل",
			"regime": "النظام", "position": "المنصب", "period": "الفترة", "latin": "بالحروف اللاتينية", "arabic": "بالعربية",
			"employer_nif": "رقم التعريف الجبائي للمستخدم", "employer_name": "المستخدم", "dissolved_by_divorce": "منحل بالطلاق",
			"wages": "الأجور", "due": "المستحق", "paid": "المدفوع",
		},
	}
}
