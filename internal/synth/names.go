package synth

import "strings"

// name is one name in both scripts. Arabic is authoritative on paper; the
// Latin form is one common transliteration.
type name struct{ Latin, Arabic string }

// Era indexes of the first-name lists: born before 1960, 1960-1989, 1990 on.
const (
	eraOld = iota
	eraMid
	eraNew
	numEras
)

func eraOf(year int) int {
	switch {
	case year < 1960:
		return eraOld
	case year < 1990:
		return eraMid
	default:
		return eraNew
	}
}

// First names by sex and era, the most frequent first (draws favour the
// head of each list). Sources: Interior ministry's most given first names
// 1970-2020 and common older names.
var maleNames = [numEras][]name{
	eraOld: {
		{"Mohamed", "محمد"}, {"Ahmed", "أحمد"}, {"Ali", "علي"}, {"Abdelkader", "عبد القادر"},
		{"Said", "سعيد"}, {"Larbi", "العربي"}, {"Belkacem", "بلقاسم"}, {"Messaoud", "مسعود"},
		{"Lakhdar", "لخضر"}, {"Slimane", "سليمان"}, {"Amar", "عمار"}, {"Mustapha", "مصطفى"},
		{"Boualem", "بوعلام"}, {"Abderrahmane", "عبد الرحمان"}, {"Djilali", "جيلالي"}, {"Miloud", "ميلود"},
		{"Tahar", "الطاهر"}, {"Hocine", "حسين"}, {"Saad", "سعد"}, {"Kaddour", "قدور"},
		{"Moussa", "موسى"}, {"Benaissa", "بن عيسى"}, {"Abdallah", "عبد الله"}, {"Brahim", "براهيم"},
		{"Omar", "عمر"}, {"Salah", "صالح"}, {"Hadj", "الحاج"}, {"Bachir", "بشير"},
	},
	eraMid: {
		{"Mohamed", "محمد"}, {"Abdelkader", "عبد القادر"}, {"Ahmed", "أحمد"}, {"Ali", "علي"},
		{"Rachid", "رشيد"}, {"Rabah", "رابح"}, {"Mourad", "مراد"}, {"Said", "سعيد"},
		{"Kamel", "كمال"}, {"Brahim", "براهيم"}, {"Karim", "كريم"}, {"Nabil", "نبيل"},
		{"Farid", "فريد"}, {"Hakim", "حكيم"}, {"Djamel", "جمال"}, {"Noureddine", "نور الدين"},
		{"Samir", "سمير"}, {"Sofiane", "سفيان"}, {"Redouane", "رضوان"}, {"Nassim", "نسيم"},
		{"Mustapha", "مصطفى"}, {"Fouad", "فؤاد"}, {"Yacine", "ياسين"}, {"Lyes", "إلياس"},
		{"Walid", "وليد"}, {"Hamid", "حميد"}, {"Azzedine", "عز الدين"}, {"Toufik", "توفيق"},
	},
	eraNew: {
		{"Mohamed", "محمد"}, {"Youcef", "يوسف"}, {"Adam", "آدم"}, {"Ayoub", "أيوب"},
		{"Abderrahmane", "عبد الرحمان"}, {"Anas", "أنس"}, {"Younes", "يونس"}, {"Iyad", "إياد"},
		{"Ishak", "إسحاق"}, {"Amine", "أمين"}, {"Yacine", "ياسين"}, {"Rayan", "ريان"},
		{"Islam", "إسلام"}, {"Oussama", "أسامة"}, {"Abdellah", "عبد الله"}, {"Ilyes", "إلياس"},
		{"Zakaria", "زكرياء"}, {"Mehdi", "مهدي"}, {"Wassim", "وسيم"}, {"Haithem", "هيثم"},
		{"Aymen", "أيمن"}, {"Akram", "أكرم"}, {"Abdelmalek", "عبد المالك"}, {"Raouf", "رؤوف"},
		{"Taha", "طه"}, {"Khalil", "خليل"}, {"Mouad", "معاذ"}, {"Nadir", "نذير"},
	},
}

var femaleNames = [numEras][]name{
	eraOld: {
		{"Fatma", "فاطمة"}, {"Kheira", "خيرة"}, {"Aicha", "عائشة"}, {"Zohra", "زهرة"},
		{"Fatima", "فاطمة"}, {"Khadidja", "خديجة"}, {"Yamina", "يمينة"}, {"Halima", "حليمة"},
		{"Zineb", "زينب"}, {"Messaouda", "مسعودة"}, {"Ourida", "وريدة"}, {"Houria", "حورية"},
		{"Baya", "باية"}, {"Fatiha", "فتيحة"}, {"Louiza", "لويزة"}, {"Rabia", "ربيعة"},
		{"Zoulikha", "زليخة"}, {"Taous", "طاوس"}, {"Hadjira", "هجيرة"}, {"Mebarka", "مباركة"},
		{"Khedidja", "خديجة"}, {"Djamila", "جميلة"}, {"Zakia", "زكية"}, {"Ghania", "غنية"},
	},
	eraMid: {
		{"Fatiha", "فتيحة"}, {"Fatima", "فاطمة"}, {"Aicha", "عائشة"}, {"Zahra", "زهرة"},
		{"Kheira", "خيرة"}, {"Malika", "مليكة"}, {"Yasmina", "ياسمينة"}, {"Djamila", "جميلة"},
		{"Karima", "كريمة"}, {"Nadia", "نادية"}, {"Samira", "سميرة"}, {"Souad", "سعاد"},
		{"Leila", "ليلى"}, {"Naima", "نعيمة"}, {"Hayat", "حياة"}, {"Assia", "آسيا"},
		{"Sabrina", "صبرينة"}, {"Amel", "أمال"}, {"Hanane", "حنان"}, {"Nawal", "نوال"},
		{"Wahiba", "وهيبة"}, {"Lamia", "لمياء"}, {"Saliha", "صليحة"}, {"Nassima", "نسيمة"},
		{"Siham", "سهام"}, {"Farida", "فريدة"}, {"Dalila", "دليلة"}, {"Soraya", "ثريا"},
	},
	eraNew: {
		{"Meriem", "مريم"}, {"Ikram", "إكرام"}, {"Aya", "آية"}, {"Malak", "ملاك"},
		{"Sirine", "سيرين"}, {"Tasnime", "تسنيم"}, {"Amira", "أميرة"}, {"Lina", "لينا"},
		{"Rania", "رانية"}, {"Khadidja", "خديجة"}, {"Imane", "إيمان"}, {"Sara", "سارة"},
		{"Nour", "نور"}, {"Yasmine", "ياسمين"}, {"Chaima", "شيماء"}, {"Hadil", "هديل"},
		{"Manel", "منال"}, {"Asma", "أسماء"}, {"Ines", "إيناس"}, {"Maria", "ماريا"},
		{"Lyna", "لينة"}, {"Rahma", "رحمة"}, {"Wissal", "وصال"}, {"Nesrine", "نسرين"},
		{"Selma", "سلمى"}, {"Hiba", "هبة"}, {"Douaa", "دعاء"}, {"Djihane", "جيهان"},
	},
}

// surnames: common Algerian family names, many with the Ben/Bou/Ait
// prefixes. Latin forms are upper case, as on civil-status extracts.
var surnames = []name{
	{"BENALI", "بن علي"}, {"BOUZID", "بوزيد"}, {"SAIDI", "سعيدي"}, {"BRAHIMI", "براهيمي"},
	{"MANSOURI", "منصوري"}, {"BENAHMED", "بن أحمد"}, {"BENSALAH", "بن صالح"}, {"BOUDIAF", "بوضياف"},
	{"BELKACEMI", "بلقاسمي"}, {"HAMIDI", "حميدي"}, {"KHELIFI", "خليفي"}, {"MEZIANE", "مزيان"},
	{"HADDAD", "حداد"}, {"CHERIF", "شريف"}, {"AMRANI", "عمراني"}, {"BOUZIANE", "بوزيان"},
	{"BENYAHIA", "بن يحيى"}, {"RAHMANI", "رحماني"}, {"BOUKHARI", "بوخاري"}, {"ZERROUKI", "زروقي"},
	{"BEKKOUCHE", "بكوش"}, {"DJEBBAR", "جبار"}, {"MEBARKI", "مباركي"}, {"GUERFI", "قرفي"},
	{"SLIMANI", "سليماني"}, {"HADJADJ", "حجاج"}, {"TALEB", "طالب"}, {"BENAMARA", "بن عمارة"},
	{"KACI", "قاسي"}, {"AIT AHMED", "آيت أحمد"}, {"OUALI", "والي"}, {"FERHAT", "فرحات"},
	{"LOUNIS", "لونيس"}, {"BENMOUSSA", "بن موسى"}, {"BOUAZIZ", "بوعزيز"}, {"CHABANE", "شعبان"},
	{"MESSAOUDI", "مسعودي"}, {"BELAID", "بلعيد"}, {"TOUATI", "تواتي"}, {"KADDOURI", "قدوري"},
	{"YAHIAOUI", "يحياوي"}, {"BENKHALED", "بن خالد"}, {"BOUKERMA", "بوكرمة"}, {"BOUCHAMA", "بوشامة"},
	{"HAMDI", "حمدي"}, {"ABDELLAOUI", "عبد اللاوي"}, {"AOUADI", "عوادي"}, {"BENSLIMANE", "بن سليمان"},
	{"BOUABDALLAH", "بوعبد الله"}, {"ZITOUNI", "زيتوني"}, {"BENAISSA", "بن عيسى"}, {"BOUDJEMAA", "بوجمعة"},
	{"MOKRANI", "مقراني"}, {"GHEZALI", "غزالي"}, {"AISSAOUI", "عيساوي"}, {"BENAMOR", "بن عمر"},
	{"BOUHAFS", "بوحفص"}, {"BENHAMOUDA", "بن حمودة"}, {"KHERBOUCHE", "خربوش"}, {"HAMADOUCHE", "حمدوش"},
	{"BENCHIKH", "بن الشيخ"}, {"CHAOUCH", "شاوش"}, {"BELHADJ", "بلحاج"}, {"BENABDALLAH", "بن عبد الله"},
	{"DERRADJI", "دراجي"}, {"ZIANI", "زياني"}, {"LAMRI", "لعمري"}, {"BENMOHAMED", "بن محمد"},
	{"BOUCHAREB", "بوشارب"}, {"BENSAID", "بن سعيد"}, {"LAKHAL", "لكحل"}, {"BOUGHERARA", "بوقرارة"},
	{"MEKKI", "مكي"}, {"NOURI", "نوري"}, {"SAADI", "سعدي"}, {"BENYOUCEF", "بن يوسف"},
	{"BOURAS", "بوراس"}, {"GUETTAF", "قطاف"}, {"HAMLAOUI", "حملاوي"}, {"BENKADDOUR", "بن قدور"},
	{"OUCHENE", "أوشان"}, {"REZIG", "رزيق"}, {"ALLALI", "علالي"}, {"KACEMI", "قاسمي"},
	{"AZZOUZ", "عزوز"}, {"BENDAOUD", "بن داود"}, {"BOUSSAID", "بوسعيد"}, {"ACHOUR", "عاشور"},
	{"DJELLAL", "جلال"}, {"GUENDOUZ", "قندوز"}, {"MAAMRI", "معمري"}, {"SAHRAOUI", "صحراوي"},
	{"TAHRI", "طاهري"}, {"ZOUAOUI", "زواوي"}, {"BENARBIA", "بن عربية"}, {"BOUKHALFA", "بوخلفة"},
	{"CHELGHOUM", "شلغوم"}, {"DRIF", "دريف"}, {"FERRAH", "فراح"}, {"HACHEMI", "هاشمي"},
	{"LABIDI", "العبيدي"}, {"MADANI", "مدني"}, {"NACERI", "ناصري"}, {"RAHAL", "رحال"},
	{"SMAILI", "سماعيلي"}, {"TOUNSI", "تونسي"}, {"YOUSFI", "يوسفي"}, {"BENZERGA", "بن زرقة"},
	{"BOUDERBALA", "بودربالة"}, {"BENMANSOUR", "بن منصور"}, {"OULD ALI", "ولد علي"}, {"AIT SAID", "آيت سعيد"},
}

// firstNameVariants are other transliterations of the same Arabic name:
// a civil-status correction (`seed --live`) rewrites one into the other.
var firstNameVariants = map[string]string{
	"Mohamed": "Mohammed", "Mohammed": "Mohamed",
	"Youcef": "Youssef", "Youssef": "Youcef",
	"Khadidja": "Khadija", "Khadija": "Khadidja",
	"Abdelkader": "Abdelkadir", "Abdelkadir": "Abdelkader",
	"Said": "Saïd", "Saïd": "Said",
	"Aicha": "Aïcha", "Aïcha": "Aicha",
	"Brahim": "Ibrahim", "Ibrahim": "Brahim",
	"Mustapha": "Moustafa", "Moustafa": "Mustapha",
	"Hocine": "Houcine", "Houcine": "Hocine",
	"Djamel": "Jamel", "Jamel": "Djamel",
	"Djamila": "Jamila", "Jamila": "Djamila",
	"Meriem": "Meryem", "Meryem": "Meriem",
	"Ishak": "Ishaq", "Ishaq": "Ishak",
	"Lyes": "Ilyes", "Ilyes": "Lyes",
	"Fatma": "Fatima", "Fatima": "Fatma",
	"Yacine": "Yassine", "Yassine": "Yacine",
	"Abderrahmane": "Abderrahman", "Abderrahman": "Abderrahmane",
	"Kheira": "Khaira", "Khaira": "Kheira",
	"Zohra": "Zahra", "Zahra": "Zohra",
	"Oussama": "Usama", "Usama": "Oussama",
}

// correctName returns another transliteration of a Latin first-names
// string or surname, and whether one exists: a first name's variant, or
// the Ben/Bou prefix written apart or together.
func correctName(firstNames, surname string) (newFirst, newSurname string, ok bool) {
	parts := strings.Fields(firstNames)
	for i, p := range parts {
		if v, found := firstNameVariants[p]; found {
			parts[i] = v
			return strings.Join(parts, " "), surname, true
		}
	}
	for _, pre := range []string{"BEN", "BOU"} {
		switch {
		case strings.HasPrefix(surname, pre+" "):
			return firstNames, pre + strings.TrimPrefix(surname, pre+" "), true
		case strings.HasPrefix(surname, pre) && len(surname) > len(pre)+2:
			return firstNames, pre + " " + strings.TrimPrefix(surname, pre), true
		}
	}
	return firstNames, surname, false
}

// Employers: legal forms, activities and place words for names like
// "SARL Hoggar Travaux", "EURL Benali Transport", "SPA Numidia Agro".
var (
	legalForms = []string{"SARL", "SARL", "SARL", "SARL", "EURL", "EURL", "SPA", "SNC", "ETS"}
	placeWords = []string{"Atlas", "El Djazair", "Hoggar", "Tassili", "Sahel", "Mitidja", "Numidia", "El Bahia",
		"Djurdjura", "Aurès", "Zibans", "Tell", "Chelif", "Saoura", "Medjerda", "Cirta", "Ennour", "El Amel",
		"Essalam", "El Khair", "Tafna", "Soummam", "Hodna", "Oasis"}
)

// sector is an employer's line of business: its name words and the
// positions it declares.
type sector struct {
	Words     []string
	Positions []string
	Public    bool
}

var sectors = []sector{
	{Words: []string{"Travaux", "Bâtiment", "Travaux Publics", "Construction", "Génie Civil"},
		Positions: []string{"Maçon", "Chef de chantier", "Conducteur d'engins", "Manœuvre", "Ingénieur en génie civil", "Coffreur", "Électricien"}},
	{Words: []string{"Transport", "Logistique", "Transit"},
		Positions: []string{"Chauffeur", "Magasinier", "Agent logistique", "Mécanicien", "Agent de quai"}},
	{Words: []string{"Distribution", "Import-Export", "Commerce", "Négoce"},
		Positions: []string{"Commercial", "Vendeur", "Caissier", "Comptable", "Magasinier", "Secrétaire"}},
	{Words: []string{"Industrie", "Plastique", "Textile", "Agro", "Matériaux", "Mécanique", "Emballage"},
		Positions: []string{"Ouvrier", "Technicien", "Opérateur de production", "Ingénieur", "Agent de maintenance", "Contrôleur qualité"}},
	{Words: []string{"Services", "Informatique", "Nettoyage", "Sécurité", "Conseil"},
		Positions: []string{"Agent de sécurité", "Agent d'entretien", "Développeur", "Technicien informatique", "Secrétaire", "Comptable"}},
	{Words: []string{"Hôtellerie", "Restauration", "Boulangerie"},
		Positions: []string{"Cuisinier", "Serveur", "Réceptionniste", "Boulanger", "Plongeur"}},
	{Public: true, Words: []string{"Direction de l'Éducation"},
		Positions: []string{"Enseignant", "Professeur", "Agent administratif", "Surveillant", "Intendant"}},
	{Public: true, Words: []string{"Établissement public hospitalier"},
		Positions: []string{"Infirmier", "Médecin", "Aide-soignant", "Agent administratif", "Sage-femme"}},
	{Public: true, Words: []string{"APC"},
		Positions: []string{"Agent administratif", "Agent d'état civil", "Ouvrier professionnel", "Chauffeur", "Attaché d'administration"}},
}

// CASNOS regimes of non-salaried affiliates.
var casnosRegimes = []string{"commerçant", "commerçant", "artisan", "artisan", "profession libérale", "agriculteur", "gérant de société"}
