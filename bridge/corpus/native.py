"""Native sentences for the non-English MBROLA voices, and random word strings made from them.

A few dozen everyday sentences per language (one per line), written for this corpus, with a tongue
twister or two for the rarer sounds. Training paragraphs are random strings of their words, drawn with
the words' own frequencies so that function words stay common, as ``texts.make_sentences`` does for
English: random strings cover more cross-word sound pairs than the sentences repeated.
"""

from __future__ import annotations

import random

_DE = """\
Der Zug nach München fährt um acht Uhr vom Hauptbahnhof ab.
Können Sie mir bitte sagen, wo die nächste Apotheke ist?
Im Frühling blühen die Kirschbäume im Garten meiner Großmutter.
Wir haben gestern Abend zusammen gekocht und viel gelacht.
Die Kinder spielen auf der Wiese hinter dem alten Schloss.
Ich möchte ein Glas Wasser und ein Stück Apfelkuchen, bitte.
Sein Bruder arbeitet seit zwei Jahren als Arzt in Zürich.
Die Brücke über den Fluss wurde im letzten Sommer gebaut.
Es regnet schon den ganzen Tag, deshalb bleiben wir zu Hause.
Hast du die Zeitung von heute schon gelesen?
Der Hund läuft schnell über die Straße und bellt laut.
Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.
Meine Schwester wohnt in einer kleinen Wohnung am Stadtrand.
Nach dem Essen trinken wir gern einen Kaffee mit Milch.
Das Wetter wird morgen freundlich, aber ziemlich kühl.
Er hat seinen Schlüssel verloren und sucht ihn überall.
Die Lehrerin erklärt den Schülern die Geschichte Europas.
Könnten wir das Treffen auf nächsten Donnerstag verschieben?
Auf dem Markt kauft sie Gemüse, Obst und frische Brötchen.
Ich verstehe nicht, warum der Computer plötzlich so langsam ist.
Die Vögel singen früh am Morgen, wenn die Sonne aufgeht.
Wir fahren im August mit dem Fahrrad an die Ostsee.
Pferde, Kühe und Schafe stehen friedlich auf der Weide.
Welches Buch hast du zuletzt gelesen, und hat es dir gefallen?
Der Pfarrer spricht leise mit der traurigen Familie.
Fünf fröhliche Frösche hüpfen durch den feuchten Wald.
Das Flugzeug landet pünktlich trotz des starken Windes.
Bitte schließen Sie das Fenster, es zieht hier sehr.
Jeder Mensch braucht manchmal Ruhe und ein bisschen Glück.
Ach, ich habe völlig vergessen, dass heute Mittwoch ist!
Die Ärztin untersucht das Knie des jungen Fußballspielers.
Sechs tschechische Chöre singen in der Kirche zum Jubiläum.
"""

_FR = """\
Le train pour Lyon part à huit heures de la gare du Nord.
Pouvez-vous me dire où se trouve la pharmacie la plus proche?
Au printemps, les cerisiers fleurissent dans le jardin de ma grand-mère.
Nous avons dîné ensemble hier soir et nous avons beaucoup ri.
Les enfants jouent sur la pelouse derrière le vieux château.
Je voudrais un verre d'eau et un morceau de gâteau, s'il vous plaît.
Son frère travaille comme médecin à Genève depuis deux ans.
Le pont sur la rivière a été construit l'été dernier.
Il pleut depuis ce matin, alors nous restons à la maison.
As-tu déjà lu le journal d'aujourd'hui?
Le chien traverse la rue en courant et aboie très fort.
Un chasseur sachant chasser doit savoir chasser sans son chien.
Ma sœur habite dans un petit appartement en banlieue.
Après le repas, nous prenons volontiers un café au lait.
Demain, le temps sera agréable mais plutôt frais.
Il a perdu sa clé et la cherche partout dans l'immeuble.
L'institutrice explique aux élèves l'histoire de l'Europe.
Pourrions-nous déplacer la réunion à jeudi prochain?
Au marché, elle achète des légumes, des fruits et du pain frais.
Je ne comprends pas pourquoi l'ordinateur est soudain si lent.
Les oiseaux chantent tôt le matin quand le soleil se lève.
En août, nous partons à vélo vers la côte bretonne.
Les chevaux, les vaches et les moutons broutent tranquillement.
Quel est le dernier livre que tu as lu, et t'a-t-il plu?
Un bon vin blanc accompagne parfaitement le poisson grillé.
Les feuilles jaunes tombent doucement sur le chemin humide.
L'avion atterrit à l'heure malgré le vent violent.
Fermez la fenêtre, s'il vous plaît, il y a un courant d'air.
Chacun a parfois besoin de calme et d'un peu de bonheur.
Oh, j'ai complètement oublié que nous sommes mercredi!
Le docteur examine le genou du jeune joueur de football.
Une brune peu heureuse mange un œuf et une prune.
"""

_ES = """\
El tren para Sevilla sale a las ocho de la estación central.
¿Puede decirme dónde está la farmacia más cercana?
En primavera florecen los cerezos en el jardín de mi abuela.
Anoche cenamos juntos y nos reímos mucho.
Los niños juegan en el césped detrás del viejo castillo.
Quisiera un vaso de agua y un trozo de tarta, por favor.
Su hermano trabaja como médico en Valencia desde hace dos años.
El puente sobre el río se construyó el verano pasado.
Llueve desde esta mañana, así que nos quedamos en casa.
¿Ya has leído el periódico de hoy?
El perro cruza la calle corriendo y ladra muy fuerte.
Tres tristes tigres tragaban trigo en un trigal.
Mi hermana vive en un piso pequeño en las afueras.
Después de comer, tomamos con gusto un café con leche.
Mañana hará buen tiempo, pero bastante fresco.
Ha perdido la llave y la busca por todas partes.
La maestra explica a los alumnos la historia de Europa.
¿Podríamos cambiar la reunión al jueves que viene?
En el mercado compra verduras, fruta y pan recién hecho.
No entiendo por qué el ordenador va tan lento de repente.
Los pájaros cantan temprano cuando sale el sol.
En agosto vamos en bicicleta hasta la costa gallega.
Los caballos, las vacas y las ovejas pastan tranquilamente.
¿Cuál fue el último libro que leíste, y te gustó?
El niño pequeño sueña con ser piloto de aviones.
Rápido ruedan los carros cargados de azúcar del ferrocarril.
El avión aterrizó a tiempo a pesar del viento fuerte.
Cierra la ventana, por favor, que hay corriente.
Todo el mundo necesita a veces tranquilidad y un poco de suerte.
¡Ay, se me olvidó por completo que hoy es miércoles!
La doctora examina la rodilla del joven futbolista.
Ñoño y Yolanda llevan chorizo y jamón a la fiesta de junio.
"""

_IT = """\
Il treno per Milano parte alle otto dalla stazione centrale.
Può dirmi dov'è la farmacia più vicina?
In primavera fioriscono i ciliegi nel giardino di mia nonna.
Ieri sera abbiamo cenato insieme e abbiamo riso molto.
I bambini giocano sul prato dietro il vecchio castello.
Vorrei un bicchiere d'acqua e una fetta di torta, per favore.
Suo fratello lavora come medico a Firenze da due anni.
Il ponte sul fiume è stato costruito l'estate scorsa.
Piove da stamattina, quindi restiamo a casa.
Hai già letto il giornale di oggi?
Il cane attraversa la strada di corsa e abbaia forte.
Sopra la panca la capra campa, sotto la panca la capra crepa.
Mia sorella abita in un piccolo appartamento in periferia.
Dopo pranzo prendiamo volentieri un caffè con il latte.
Domani il tempo sarà bello, ma piuttosto fresco.
Ha perso la chiave e la cerca dappertutto.
La maestra spiega agli alunni la storia d'Europa.
Potremmo spostare la riunione a giovedì prossimo?
Al mercato compra verdure, frutta e pane fresco.
Non capisco perché il computer sia improvvisamente così lento.
Gli uccelli cantano presto la mattina quando sorge il sole.
Ad agosto andiamo in bicicletta fino alla costa ligure.
I cavalli, le mucche e le pecore pascolano tranquilli.
Qual è l'ultimo libro che hai letto, e ti è piaciuto?
Lo zio Giorgio mangia gnocchi e pizza con gli amici.
Trentatré trentini entrarono a Trento tutti e trentatré trotterellando.
L'aereo è atterrato in orario nonostante il vento forte.
Chiudi la finestra, per favore, c'è corrente.
Tutti hanno bisogno a volte di tranquillità e di un po' di fortuna.
Oh, ho completamente dimenticato che oggi è mercoledì!
La dottoressa esamina il ginocchio del giovane calciatore.
Le sciarpe di seta gialla sono nello zaino azzurro.
"""

# Keyed by espeak-ng voice: the voice's language reads them.
SENTENCES: dict[str, tuple[str, ...]] = {
    "mb-de2": tuple(_DE.splitlines()),
    "mb-fr1": tuple(_FR.splitlines()),
    "mb-es1": tuple(_ES.splitlines()),
    "mb-it3": tuple(_IT.splitlines()),
}


PUNCTUATION = ".,;:!?¿¡"


def words(voice: str) -> list[str]:
    """Every word token of the voice's sentences, punctuation stripped, repeats kept."""
    return [w.strip(PUNCTUATION) for line in SENTENCES[voice] for w in line.split() if w.strip(PUNCTUATION)]


def make_native_sentences(n: int, seed: int, voice: str) -> list[str]:
    """``n`` strings of 4..12 words of the voice's language, deterministic in ``seed``.

    Raises:
        KeyError: no native sentences for ``voice``.
    """
    tokens = words(voice)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        picked = [rng.choice(tokens) for _ in range(rng.randint(4, 12))]
        end = rng.choice([".", ".", ".", "?", "!", ","])
        text = " ".join(picked)
        out.append(text[0].upper() + text[1:] + end)
    return out
