"""A generated set of long conversations with late questions about early details, for `bench.recall`.

Why generated: no download, no licence question, and every run sees the same data (deterministic from
a seed). Each conversation is one person talking to an assistant over a long time, in Spanish or in
English:

- **Persona facts** are planted in the first 30% of the user turns (name, city, job and employer,
  pet, partner, child, sibling and where they live, allergy, birthday, car, hobby, favourite dish,
  degree and university, a work project, a trip, a gym locker number, a language being learnt, a
  football team), each inside an ordinary message. Values are drawn from word banks per conversation.
- **Filler** makes up the rest: cooking, sport, films, weather, work, travel, tech, health, money, home
  and small talk, from many templates and word banks, with openers, context sentences and closers.
- **Distractors** reuse a fact's key words in another context (a neighbour's pet, a film set in the
  same city, a brother-in-law with the same job, "my least favourite dish"), so ranking matters.
- **Updates** change some facts between 35% and 75% of the way through (a move, a new job, a new car,
  a new pet), stated naturally ("Al final me mudé de Bogotá a Lima", "I quit Acme and joined Globex").
- **Questions** come in the last 20% of the turns as ordinary user turns, about 12 per conversation.
  Each knows its `evidence` (the user turns that answer it) and, for each, the `facts` substring of
  that turn that carries the answer. Kinds, by how the question's words relate to the evidence:
  `inflected` (same lemma, another form: vivo/vivía, allergic/allergy), `paraphrase` (restructured,
  sharing at least one content word), `synonym` (the key word replaced by a synonym or hypernym:
  coche/vehículo, dog/pet), `multi` (two facts from different turns) and `update` (the current value
  of a fact that changed: the evidence is the newest statement, not the old one).

Nothing here is tuned to any retrieval method: questions are written the way a user would ask them,
and the per-kind breakdown of the benchmark shows where lexical recall fails.

`python -m bench.conversations` prints the set's statistics and a few example questions.
"""

from __future__ import annotations

import math
import random
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

KINDS = ("inflected", "paraphrase", "synonym", "multi", "update")
LANGUAGES = ("es", "en")
DEFAULT_SEED = 20261125

PLANT_END = 0.30  # facts are planted in the first 30% of the turns
UPDATE_ZONE = (0.35, 0.75)  # facts change between 35% and 75%
QUESTION_START = 0.80  # questions come in the last 20%
MIN_TURNS = 100
FULL_TURNS = 300  # from here on a conversation is full-size (the length checks apply in full)
SHORT, LONG = 80, 220  # most user messages are this long (characters)

# Question mix per conversation (inflected, paraphrase, synonym, multi, update), cycled so that the
# whole set comes out near 30% / 30% / 15% / 15% / 10%.
KIND_PATTERNS = (
    (4, 3, 2, 2, 1),
    (3, 4, 2, 2, 1),
    (4, 4, 2, 1, 1),
    (3, 3, 2, 2, 2),
)


@dataclass(frozen=True)
class Question:
    """A late user turn that asks about earlier turns."""

    at: int
    """Index of the user turn that asks it (`turns[at] == text`)."""
    text: str
    evidence: list[int]
    """Indices of the user turns that answer it, oldest first."""
    facts: list[str]
    """For each evidence turn, the substring of that user message that carries the answer."""
    answer: str
    kind: str


@dataclass
class Conversation:
    id: str
    language: str
    turns: list[str]
    """The user messages, in order."""
    questions: list[Question] = field(default_factory=list)
    replies: list[str] | None = None
    """The other speaker's messages, one per user message (`bench.chats`); None: whatever the
    model says."""
    set: str = "assistant"
    """Which generated set it comes from: `assistant` (here) or `chat` (`bench.chats`)."""

    def exchange(self, at: int) -> str:
        """The text of turn `at`: the user message and, where scripted, the reply."""
        return self.turns[at] if self.replies is None else f"{self.turns[at]}\n{self.replies[at]}"


def _words(text: str, separator: str = "|") -> tuple[str, ...]:
    """A word bank written as one string: "a|b|c" (or space-separated, for single words)."""
    return tuple(text.split(separator))


# --------------------------------------------------------------------------------------------------
# Templates. In a planted sentence the fact is marked [like this]; placeholders are persona values.


@dataclass(frozen=True)
class SlotText:
    """How one persona fact is planted, asked about and imitated, in one language."""

    plants: tuple[str, ...]
    answer: str
    distractors: tuple[str, ...]
    inflected: tuple[str, ...] = ()
    paraphrase: tuple[str, ...] = ()
    synonym: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateText:
    """A later statement that changes a fact, and the question about its current value."""

    statements: tuple[str, ...]
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class MultiText:
    """A question that needs two facts from different turns."""

    slots: tuple[str, str]
    questions: tuple[str, ...]
    answer: str


ES_SLOTS: dict[str, SlotText] = {
    "name": SlotText(
        plants=(
            "Antes de nada, [me llamo {full}] y te voy a dar bastante la lata estos meses, ya te aviso.",
            "Encantad{o} de hablar contigo. [Me llamo {full}], por si alguna vez necesitas dirigirte a mí.",
            "Para que lo sepas, [me llamo {full}], aunque mis amigos me llaman por el apellido.",
        ),
        answer="{full}",
        distractors=(
            "Hoy he conocido a alguien que se apellida {last} también, y resulta que no somos familia.",
            "En la guardería de mi sobrino hay un niño con mi mismo nombre, {first}, y me hace mucha gracia.",
        ),
        inflected=(
            "¿Cómo te dije que me llamaba? Quiero ver si lo guardaste bien.",
            "¿Recuerdas cómo me llamaba de apellido? Lo necesito para rellenar una ficha.",
        ),
        paraphrase=(
            "¿Sabrías escribir cómo me llamo, nombre y apellido, para la ficha del colegio?",
            "Para la reserva, ¿con qué apellido me llamo yo? A ver si lo tienes.",
        ),
        synonym=(
            "¿Cuál es mi nombre completo? Lo necesito para una reserva y quiero ver si lo recuerdas.",
            "¿Sabes mi nombre y mi apellido? Voy a comprobar si te acuerdas.",
        ),
    ),
    "city": SlotText(
        plants=(
            "Te pongo en contexto: [vivo en {city}] desde hace unos años y todavía me sorprenden los atascos de la mañana.",
            "Como [vivo en {city}], los fines de semana suelo salir a caminar por el centro y a tomar algo con amigos.",
            "Desde que [vivo en {city}] he cambiado bastante mis hábitos; ahora voy andando a casi todas partes.",
        ),
        answer="{city}",
        distractors=(
            "Anoche vi una película ambientada en {city} y salían calles que conozco de memoria.",
            "Un amigo vive en {other_city} y dice que allí los alquileres están por las nubes.",
            "Un compañero va de visita a {city} en primavera y me pregunta qué tiempo suele hacer.",
        ),
        inflected=(
            "¿En qué ciudad te conté que vivía?",
            "Recuérdame una cosa: ¿dónde te dije que vivía yo?",
        ),
        paraphrase=(
            "Necesito buscar un fontanero cerca: ¿en qué ciudad vivo, según lo que te conté?",
            "¿Cuál es la ciudad en la que vivo? Quiero que me recomiendes planes cerca de casa.",
        ),
        synonym=(
            "¿Cuál es mi lugar de residencia? Lo tengo que poner en un formulario.",
            "¿En qué ciudad resido? Quiero comprobar que lo tienes bien.",
        ),
    ),
    "job": SlotText(
        plants=(
            "Te cuento: trabajo [como {job} en {company}] y esta semana ha sido especialmente intensa.",
            "Llevo cinco años trabajando [como {job} en {company}], y aunque me gusta, a veces acabo agotad{o}.",
        ),
        answer="{job} en {company}",
        distractors=(
            "Mi cuñado también es {job_m}, pero dice que en su sector pagan fatal.",
            "He leído que {company} va a abrir una sede nueva; salió en las noticias locales.",
            "Una vecina busca trabajo de {job_f} y me ha pedido que le revise el currículum.",
        ),
        inflected=(
            "¿Te acuerdas de en qué trabajaba yo? Quiero actualizar mi perfil.",
            "¿De qué te dije que trabajaba y en qué empresa?",
        ),
        paraphrase=(
            "Para la carta de presentación, ¿cuál es mi trabajo actual y en qué empresa?",
            "¿En qué empresa trabajo? Me piden el dato en una encuesta.",
        ),
        synonym=(
            "¿A qué me dedico profesionalmente? Ayúdame a describirlo en una línea.",
            "¿Cuál es mi profesión y dónde la ejerzo?",
        ),
    ),
    "pet": SlotText(
        plants=(
            "En casa tenemos {un_species} que [se llama {pet}] y es el rey absoluto del sofá.",
            "Hoy he llevado al veterinario a mi {species}, que [se llama {pet}], porque llevaba dos días sin comer bien.",
        ),
        answer="{pet} ({species})",
        distractors=(
            "Mi vecino tiene {un_species} que se pasa la noche haciendo ruido y no hay quien duerma.",
            "¿Qué pienso recomiendas para {un_species} mayor? Es para la familia de una amiga.",
        ),
        inflected=(
            "¿Cómo te dije que se llamaba mi {species}?",
            "Oye, ¿te acuerdas de cómo se llamaba mi {species}? Estoy rellenando la ficha del veterinario.",
        ),
        paraphrase=(
            "¿Cuál es el nombre de mi {species}? Voy a encargarle una placa nueva para el collar.",
        ),
        synonym=(
            "¿Cómo se llama mi mascota? Voy a encargarle una placa para el collar.",
            "¿Qué nombre tiene el animal que vive conmigo?",
        ),
    ),
    "partner": SlotText(
        plants=(
            "Esta noche ceno con [{partner}, mi {rel}], que hoy ha tenido un día horrible en el trabajo.",
            "[Mi {rel} {partner}] y yo llevamos años juntos y todavía discutimos por la temperatura del aire acondicionado.",
        ),
        answer="{partner}",
        distractors=(
            "El {rel_other} de mi compañera de trabajo nos ha invitado a todos a una barbacoa el sábado.",
            "Una amiga lleva semanas buscando regalo para su pareja; ¿alguna idea original?",
        ),
        paraphrase=(
            "¿Cómo se llama mi {rel}? Quiero que me ayudes con una nota de cumpleaños.",
            "Quiero escribirle una carta a mi {rel}: ¿cuál es su nombre, para empezar bien?",
        ),
        synonym=(
            "¿Cómo se llama mi pareja? Quiero dedicarle una canción.",
            "¿Cuál es el nombre de la persona con la que comparto mi vida? Quiero grabarlo en un anillo.",
        ),
    ),
    "child": SlotText(
        plants=(
            "[Mi {child_rel} {child} tiene {child_age} años] y ya me corrige la ortografía de los mensajes.",
            "Hoy fue la función del colegio de [mi {child_rel} {child}, que tiene {child_age} años], y no paré de llorar.",
        ),
        answer="{child}, {child_age} años",
        distractors=(
            "{el_child_rel_cap} de mi jefe empieza la universidad este año y está de los nervios.",
            "En el parque, {un_child_syn} de unos {small_number} años me preguntó la hora y me hizo mucha gracia.",
        ),
        inflected=(
            "¿Cuántos años te dije que tenía mi {child_rel}?",
            "¿Qué edad te conté que tenía mi {child_rel}? Estoy eligiendo un regalo.",
        ),
        paraphrase=(
            "¿Qué edad tiene mi {child_rel}? Estoy mirando juguetes y no quiero equivocarme.",
            "¿Cómo se llama mi {child_rel} y cuántos años cumple? Es para la tarta.",
        ),
        synonym=(
            "¿Cuántos años tiene mi {child_syn}? Quiero comprarle un libro adecuado.",
            "¿Qué edad tiene {el_child_syn} de la casa? Voy a apuntarl{child_o} a un campamento.",
        ),
    ),
    "sibling": SlotText(
        plants=(
            "Este verano iré a ver a mi {sib_rel} [{sibling}, que vive en {sibling_city}] desde que terminó la carrera.",
            "[Mi {sib_rel} {sibling} vive en {sibling_city}] y hablamos por videollamada casi todos los domingos.",
        ),
        answer="{sibling_city}",
        distractors=(
            "Mi compañera tiene {una_sib_rel} que vive en {sibling_city} y dice que la vida allí es carísima.",
            "Estoy viendo una serie sobre dos {sib_plural} que montan una panadería, y me tiene enganchad{o}.",
        ),
        inflected=(
            "¿En qué ciudad te dije que vivía mi {sib_rel}?",
            "¿Dónde te conté que vivía mi {sib_rel}? Quiero mandarle un paquete.",
        ),
        paraphrase=(
            "¿Mi {sib_rel} en qué ciudad vive? Quiero mandarle un paquete por su cumpleaños.",
        ),
        synonym=(
            "¿En qué ciudad reside mi {sib_rel}? Estoy mirando billetes.",
            "¿Dónde tiene su casa mi {sib_rel}? Quiero darle una sorpresa.",
        ),
    ),
    "allergy": SlotText(
        plants=(
            "Ojo con las recetas que me pases: [soy {allergic} {a_allergen}] y una vez acabé en urgencias.",
            "En los restaurantes siempre aviso de que [soy {allergic} {a_allergen}], aunque a veces me miran raro.",
        ),
        answer="{allergen}",
        distractors=(
            "Un amigo es alérgico al polen y en primavera lo pasa fatal.",
            "¿Qué postre sin {allergen} me recomiendas para una compañera que no puede tomarlos?",
            "En la oficina han puesto carteles sobre alergias alimentarias en la cocina común.",
        ),
        inflected=(
            "¿Qué alergia te dije que tengo? Voy a cenar fuera y quiero avisar.",
            "Antes de pedir, ¿qué alergias te conté que tenía?",
        ),
        paraphrase=(
            "¿A qué soy {allergic}? Voy a una boda y me preguntan por el menú.",
            "Antes de pedir el menú, ¿a qué te conté que era {allergic}?",
        ),
        synonym=(
            "¿Qué alimento tengo que evitar sí o sí por salud? Voy a hacer la compra.",
            "¿Hay algo que no pueda comer por una reacción? Voy a un restaurante nuevo.",
        ),
    ),
    "birthday": SlotText(
        plants=(
            "Apunta esto por si acaso: [mi cumpleaños es el {bday_day} de {bday_month}] y todavía no sé si hacer algo.",
            "No me gusta mucho celebrarlo, pero [mi cumpleaños es el {bday_day} de {bday_month}] y mis amigos siempre insisten.",
        ),
        answer="{bday_day} de {bday_month}",
        distractors=(
            "El cumpleaños de mi sobrino es en {other_month} y no tengo ni idea de qué regalarle.",
            "Mañana es el cumpleaños de una compañera; ¿qué pongo en la tarjeta?",
        ),
        inflected=(
            "¿Qué día cumplo años? Mi familia dice que no me acuerdo ni yo.",
            "¿Cuándo te dije que cumplía años? Quiero ver si lo tienes bien.",
        ),
        paraphrase=("¿En qué fecha cae mi cumpleaños? Quiero reservar el restaurante con tiempo.",),
        synonym=(
            "¿Qué día nací? Quiero comprobar que lo tienes bien apuntado.",
            "¿Cuál es mi fecha de nacimiento? Me la piden en un formulario.",
        ),
    ),
    "car": SlotText(
        plants=(
            "Todos los días [conduzco un {make} {colour}] hasta el trabajo, y el coche ya está pidiendo una revisión.",
            "Esta mañana no arrancaba; [conduzco un {make} {colour}] que compré de segunda mano y empieza a fallar.",
        ),
        answer="{make} {colour}",
        distractors=(
            "Mi vecino se ha comprado un {make} y no para de enseñármelo.",
            "¿Cada cuánto hay que cambiar el aceite de un coche diésel?",
            "He visto un anuncio de {make} en la tele que me ha hecho muchísima gracia.",
        ),
        inflected=(
            "¿Qué te dije que conducía? Estoy comparando seguros.",
            "¿Qué coche te conté que conducía? Me lo pregunta el del taller.",
        ),
        paraphrase=("¿Cuál es la marca y el color de mi coche? Me lo piden en el aparcamiento.",),
        synonym=(
            "¿Qué vehículo tengo? Necesito el dato para el seguro.",
            "¿De qué marca y color es mi vehículo? Lo piden para la tarjeta de aparcamiento.",
        ),
    ),
    "hobby": SlotText(
        plants=(
            "Los sábados por la mañana [practico {hobby}] con un grupo del barrio y me despeja muchísimo.",
            "Desde hace unos años [practico {hobby}]; es lo que me salva del estrés del trabajo.",
        ),
        answer="{hobby}",
        distractors=(
            "He visto un documental sobre gente que hace {hobby} en lugares increíbles.",
            "Mi compañero practica {other_hobby} tres veces por semana y no se cansa nunca.",
        ),
        inflected=(
            "¿Qué actividad te conté que practicaba para desestresarme?",
            "¿Qué te dije que practicaba los fines de semana?",
        ),
        paraphrase=(
            "¿Cuál es la actividad que practico en mi tiempo libre? Quiero apuntarme a un curso de nivel más alto.",
        ),
        synonym=(
            "¿Cuál es mi pasatiempo favorito? Quiero regalarme algo relacionado.",
            "¿Qué afición tengo? Mi {rel} quiere regalarme algo.",
        ),
    ),
    "food": SlotText(
        plants=(
            "Si me preguntas por un capricho, [mi plato favorito es {food}], sin ninguna duda.",
            "Cuando estoy de bajón me preparo algo especial, porque [mi plato favorito es {food}] desde pequeñ{o}.",
        ),
        answer="{food}",
        distractors=(
            "En el bar de abajo ponen {food} los jueves, pero la verdad es que no me convence.",
            "Mi plato menos favorito es el hígado encebollado; no lo soporto.",
            "¿Sabes de dónde viene eso de {food}? Lo estábamos discutiendo en la oficina.",
        ),
        inflected=(
            "De todos los platos, ¿cuál te dije que era mi favorito?",
            "¿Qué platos te conté que me encantaban? Quiero cocinar el domingo.",
        ),
        paraphrase=(
            "¿Cuál es mi plato preferido? Quiero que me sugieras un restaurante donde lo hagan bien.",
        ),
        synonym=(
            "¿Qué comida me gusta más? Quieren sorprenderme con una cena.",
            "¿Cuál es mi comida preferida? Estoy planeando el menú de mi cumpleaños.",
        ),
    ),
    "university": SlotText(
        plants=(
            "Yo [estudié {degree} en la {uni}], aunque al final acabé trabajando en otra cosa.",
            "Hoy me he cruzado con un profesor de cuando [estudié {degree} en la {uni}] y me ha reconocido.",
        ),
        answer="{degree}, {uni}",
        distractors=(
            "Mi primo estudió en la {uni} y dice que los exámenes eran durísimos.",
            "¿Merece la pena estudiar {degree} hoy en día? Me lo pregunta mi sobrina.",
        ),
        inflected=(
            "¿Qué carrera te dije que había estudiado y dónde?",
            "¿Dónde hice mis estudios universitarios? Lo necesito para el currículum.",
        ),
        paraphrase=(
            "¿En qué universidad estudié? Me piden el dato para un reencuentro de antiguos alumnos.",
        ),
        synonym=(
            "¿En qué me licencié y dónde? Lo necesito para el currículum.",
            "¿Cuál es mi titulación universitaria?",
        ),
    ),
    "project": SlotText(
        plants=(
            "En el trabajo [lidero el proyecto {project}], que tiene que estar listo antes de fin de año.",
            "Esta semana tengo mil reuniones porque [lidero el proyecto {project}] y el cliente ha cambiado los requisitos.",
        ),
        answer="{project}",
        distractors=(
            "Un vecino ha empezado un proyecto de huerto urbano en la azotea y nos ha invitado a participar.",
            "Otro equipo ha bautizado su proyecto con un nombre parecido a {project}; qué poca imaginación.",
        ),
        inflected=(
            "¿Cómo se llamaba el proyecto que te dije que lideraba?",
            "¿Qué proyectos te conté que llevaba en el trabajo?",
        ),
        paraphrase=(
            "¿Qué proyecto estoy dirigiendo en el trabajo? Quiero preparar la presentación.",
        ),
        synonym=(
            "¿Cuál era el nombre en clave de la iniciativa que coordino en la oficina?",
            "¿Cómo se llama la iniciativa que tengo a mi cargo? Es para el informe trimestral.",
        ),
    ),
    "trip": SlotText(
        plants=(
            "Ya tengo los billetes: [en {trip_month} me voy de viaje a {dest}] y estoy contando los días.",
            "Estoy ahorrando porque [en {trip_month} me voy de viaje a {dest}] con unos amigos.",
        ),
        answer="{dest}, en {trip_month}",
        distractors=(
            "Mis padres viajaron a {dest} hace años y todavía hablan de la comida.",
            "¿Qué necesito para un viaje de negocios de dos días? Siempre meto demasiada ropa.",
        ),
        inflected=(
            "¿A dónde te dije que viajaba y en qué mes?",
            "¿Cuándo viajo este año y a qué país? Tengo que pedir los días libres.",
        ),
        paraphrase=("¿Cuándo es mi viaje y a qué país voy? Tengo que pedir los días libres.",),
        synonym=(
            "¿Adónde me voy de vacaciones este año y cuándo?",
            "¿Dónde paso las vacaciones este año y en qué mes?",
        ),
    ),
    "locker": SlotText(
        plants=(
            "Apunto esto aquí para no olvidarlo: [mi taquilla del gimnasio es la {locker}].",
            "Me han cambiado de vestuario en el gimnasio y ahora [mi taquilla es la {locker}], al fondo a la derecha.",
        ),
        answer="{locker}",
        distractors=(
            "En el gimnasio han robado en una taquilla y ahora piden candado obligatorio.",
            "El autobús {bus} pasa cada veinte minutos, pero siempre llega tarde.",
        ),
        inflected=("¿Cuál de las taquillas del gimnasio es la mía? Se me ha olvidado otra vez.",),
        paraphrase=("¿Qué número tiene mi taquilla? Se me ha olvidado otra vez.",),
        synonym=(
            "¿Qué número de casillero tengo en el gym?",
            "¿Cuál es mi armario en el vestuario? No me acuerdo del número.",
        ),
    ),
    "language": SlotText(
        plants=(
            "Me he propuesto algo este año: [estoy aprendiendo {language}] con una aplicación y clases los martes.",
            "Por las noches [estoy aprendiendo {language}], aunque la gramática me está costando.",
        ),
        answer="{language}",
        distractors=(
            "Mi sobrina está aprendiendo {other_language} en el colegio y ya canta canciones.",
            "¿Cuántas horas hacen falta para hablar bien un idioma nuevo?",
        ),
        inflected=(
            "¿Qué idioma te dije que aprendía?",
            "¿Qué lengua aprendo por las noches?",
        ),
        paraphrase=("¿Qué idioma estoy aprendiendo? Quiero buscar películas para practicar.",),
        synonym=(
            "¿Qué lengua extranjera estudio ahora?",
            "¿Qué idioma estudio en mis ratos libres? Busco un intercambio.",
        ),
    ),
    "team": SlotText(
        plants=(
            "Los domingos no me molestes a la hora del partido: [soy {del_team}] desde que tengo memoria.",
            "Ayer sufrí muchísimo viendo el partido, porque [soy {del_team}] y íbamos perdiendo.",
        ),
        answer="{team}",
        distractors=(
            "Anoche ganó {el_team} y la ciudad entera estaba pitando.",
            "Un compañero es {del_rival} y no para de picarme con el fútbol.",
        ),
        inflected=("¿Con qué equipo sufría yo viendo los partidos?",),
        paraphrase=("¿De qué equipo soy? Quiero comprar entradas para el próximo partido.",),
        synonym=(
            "¿A qué club de fútbol apoyo? Quiero comprar una camiseta.",
            "¿Cuál es mi club? Un amigo me quiere regalar la bufanda.",
        ),
    ),
}

EN_SLOTS: dict[str, SlotText] = {
    "name": SlotText(
        plants=(
            "Before anything else, [my name is {full}], and I'll probably be pestering you a lot over the next few months.",
            "Quick intro so you know who you're talking to: [my name is {full}] and I mostly use you for work stuff.",
        ),
        answer="{full}",
        distractors=(
            "I met someone today whose surname is also {last}, and it turns out we're not related at all.",
            "There's a kid at my nephew's nursery who has my first name, {first}, which makes me laugh.",
        ),
        paraphrase=(
            "What's my full name, the one I gave you at the start? I need it for a form.",
            "Can you spell out my name, first and last? It's for the school form.",
        ),
    ),
    "city": SlotText(
        plants=(
            "Some context: [I live in {city}] and the morning traffic here still shocks me after all these years.",
            "Since [I live in {city}], most weekends I end up walking around the centre and grabbing a coffee with friends.",
        ),
        answer="{city}",
        distractors=(
            "I watched a film set in {city} last night and recognised half the streets.",
            "A friend of mine lives in {other_city} and says rents there are absurd.",
            "A colleague is visiting {city} in spring and asked me what the weather is like.",
        ),
        inflected=(
            "Which city did I tell you I was living in?",
            "Remind me: where did I say I was living?",
        ),
        paraphrase=(
            "Can you remind me which city I live in? I want some recommendations close to home.",
            "I need a plumber nearby: which city do I live in, going by what I told you?",
        ),
        synonym=(
            "Where am I based at the moment? Just checking you remember.",
            "Which city is home for me these days?",
        ),
    ),
    "job": SlotText(
        plants=(
            "A bit about me: I work [as {a_job} at {company}] and this week has been brutal.",
            "I've been working [as {a_job} at {company}] for five years now, and some days I'm completely drained.",
        ),
        answer="{job} at {company}",
        distractors=(
            "My brother-in-law is also {a_job}, but he says the pay is terrible where he is.",
            "I read that {company} is opening a new office; it was on the local news.",
            "A neighbour is looking for a {job} position and asked me to look over her CV.",
        ),
        inflected=(
            "Do you remember where I said I was working? I'm updating my profile.",
            "What did I tell you I worked as, and where?",
        ),
        paraphrase=(
            "Which company do I work for again? It's for a bank form.",
            "For my cover letter, what's my current work and who's it with?",
        ),
        synonym=(
            "What do I do for a living? Help me describe it in one line.",
            "What's my occupation, and who's my employer?",
        ),
    ),
    "pet": SlotText(
        plants=(
            "At home [we have {a_species} named {pet}], the undisputed king of the sofa.",
            "Took [my {species}, {pet}], to the vet today because the poor thing had barely eaten for two days.",
        ),
        answer="{pet} ({species})",
        distractors=(
            "My neighbour's {species} makes noise all night and nobody on our floor can sleep.",
            "Which food would you recommend for an older {species}? Asking for a friend's family.",
        ),
        inflected=(
            "What did I say my {species}'s name was?",
            "Do you remember the name of my {species}? I'm filling in the vet's form.",
        ),
        paraphrase=("What's my {species} called again? I'm ordering a new tag for the collar.",),
        synonym=(
            "What's my pet called? I'm ordering a name tag for the collar.",
            "What's the name of the animal that lives with me?",
        ),
    ),
    "partner": SlotText(
        plants=(
            "Having dinner tonight with [{partner}, my {rel}], who had an awful day at work.",
            "[My {rel} {partner}] and I have been together for years and we still argue about the thermostat.",
        ),
        answer="{partner}",
        distractors=(
            "My colleague's {rel_other} invited the whole team to a barbecue on Saturday.",
            "A friend is looking for a present for her partner; any original ideas?",
        ),
        paraphrase=(
            "What's the name of my {rel}? I want you to help me with a birthday note.",
            "I'm writing a letter to my {rel}: what's their name, so I start it properly?",
        ),
        synonym=(
            "What's my partner called? I want to dedicate a song.",
            "What's the name of my other half? I'm getting a ring engraved.",
        ),
    ),
    "child": SlotText(
        plants=(
            "[My {child_rel} {child} is {child_age}] and already corrects the spelling in my texts.",
            "It was the school play today for [my {child_rel} {child}, who is {child_age}], and I couldn't stop crying.",
        ),
        answer="{child}, {child_age}",
        distractors=(
            "My boss's {child_rel} starts university this year and the whole office has heard about it.",
            "A kid of about {small_number} asked me the time at the park and it made my day.",
        ),
        paraphrase=(
            "How old is my {child_rel} now? I'm looking at toys and don't want to get it wrong.",
            "What's my {child_rel} called, and how old? It's for the cake.",
        ),
        synonym=(
            "How old is my little one? I want to buy a suitable book.",
            "What's my kid's name and age? I'm signing them up for a summer camp.",
        ),
    ),
    "sibling": SlotText(
        plants=(
            "This summer I'm visiting my {sib_rel} [{sibling}, who has lived in {sibling_city}] since finishing university.",
            "[My {sib_rel} {sibling} lives in {sibling_city}] and we video-call almost every Sunday.",
        ),
        answer="{sibling_city}",
        distractors=(
            "My colleague's {sib_rel} lives in {sibling_city} and says it's very expensive there.",
            "I'm watching a series about two {sib_plural} who run a bakery together and I'm hooked.",
        ),
        inflected=(
            "Where did I say my {sib_rel} was living?",
            "Which city did I tell you my {sib_rel} was living in? I want to post a parcel.",
        ),
        paraphrase=(
            "Which city does my {sib_rel} live in? I want to post a parcel for the birthday.",
        ),
        synonym=(
            "Where is my {sib_rel} based these days? I'm looking at train tickets.",
            "Which city is my sibling in? I want to surprise them.",
        ),
    ),
    "allergy": SlotText(
        plants=(
            "Careful with any recipes you send me: [I'm allergic to {allergen}] and I once ended up in A&E.",
            "At restaurants I always mention that [I'm allergic to {allergen}], even if the waiters look at me funny.",
        ),
        answer="{allergen}",
        distractors=(
            "A friend is allergic to pollen and has a miserable time every spring.",
            "Can you suggest a dessert without {allergen} for a colleague who can't have them?",
            "The office has put up posters about food allergies in the shared kitchen.",
        ),
        inflected=(
            "What's my allergy again? I'm eating out tonight and want to warn them.",
            "Which allergies did I tell you I have?",
        ),
        paraphrase=(
            "What am I allergic to? I'm going to a wedding and they're asking about the menu.",
        ),
        synonym=(
            "Is there any food I must avoid for medical reasons? I'm doing the shopping.",
            "What can't I eat because of a reaction? I'm trying a new restaurant.",
        ),
    ),
    "birthday": SlotText(
        plants=(
            "Note this down just in case: [my birthday is on {bday_month} {bday_day}] and I still haven't decided whether to celebrate.",
            "I'm not big on celebrating, but [my birthday is on {bday_month} {bday_day}] and my friends always insist.",
        ),
        answer="{bday_month} {bday_day}",
        distractors=(
            "My nephew's birthday is in {other_month} and I have no idea what to get him.",
            "It's a colleague's birthday tomorrow; what should I write in the card?",
        ),
        paraphrase=("Which day is my birthday? I want to book a restaurant early.",),
        synonym=(
            "When was I born, the exact date? I want to check you have it right.",
            "What's my date of birth? A form is asking for it.",
        ),
    ),
    "car": SlotText(
        plants=(
            "Every day [I drive {a_car}] to work, and the car is already begging for a service.",
            "It wouldn't start this morning; [I drive {a_car}] I bought second-hand and it's starting to fail.",
        ),
        answer="{colour} {make}",
        distractors=(
            "My neighbour just bought a {make} and keeps showing it off.",
            "How often should you change the oil in a diesel car?",
            "I saw an advert for {make} on TV that made me laugh a lot.",
        ),
        inflected=(
            "What did I say I was driving? I'm comparing insurance quotes.",
            "Which car did I tell you I drove? The mechanic is asking.",
        ),
        paraphrase=("What make and colour is my car? The car park wants it.",),
        synonym=(
            "What vehicle do I own? I need it for the insurance.",
            "What make and colour is my vehicle? It's for a parking permit.",
        ),
    ),
    "hobby": SlotText(
        plants=(
            "[My big hobby is {hobby}]; I do it every Saturday with a local group and it clears my head.",
            "For a few years now [my main hobby has been {hobby}]; it's what saves me from work stress.",
        ),
        answer="{hobby}",
        distractors=(
            "I watched a documentary about people doing {hobby} in incredible places.",
            "My colleague does {other_hobby} three times a week and never gets tired.",
        ),
        inflected=(
            "Which of my hobbies did I tell you about? I want to sign up for a more advanced course.",
        ),
        paraphrase=("What's that hobby of mine again? I want to buy myself something for it.",),
        synonym=(
            "What do I do in my spare time, from what I told you?",
            "What's my favourite pastime? My {rel} wants to get me a present.",
        ),
    ),
    "food": SlotText(
        plants=(
            "If you ask me about treats, [my favourite dish is {food}], no question.",
            "When I'm feeling down I make something special, because [{food} has been my favourite dish] since I was a kid.",
        ),
        answer="{food}",
        distractors=(
            "The café downstairs does {food} on Thursdays, but honestly it's not great.",
            "My least favourite dish is liver and onions; I can't stand it.",
            "Where does {food} originally come from? We were arguing about it at the office.",
        ),
        inflected=(
            "Of all the dishes, which did I say was my favourite?",
            "Which dishes did I tell you I loved? I want to cook on Sunday.",
        ),
        paraphrase=(
            "Which dish do I love most? I'd like a restaurant suggestion where they do it well.",
        ),
        synonym=(
            "What food do I like best? Someone wants to surprise me with dinner.",
            "What's my favourite meal? I'm planning my birthday menu.",
        ),
    ),
    "university": SlotText(
        plants=(
            "[I studied {degree} at {uni}], though I ended up working in something else.",
            "Today I bumped into a lecturer from when [I studied {degree} at {uni}] and he recognised me.",
        ),
        answer="{degree}, {uni}",
        distractors=(
            "My cousin went to {uni} and says the exams were brutal.",
            "Is it worth studying {degree} these days? My niece is asking.",
        ),
        inflected=(
            "What was my field of study, and at which university?",
            "Where did I do my studies? I need it for my CV.",
        ),
        paraphrase=("Which university did I study at? It's for an alumni reunion.",),
        synonym=(
            "What did I major in, and where did I go to college?",
            "What's my degree in? I need it for my CV.",
        ),
    ),
    "project": SlotText(
        plants=(
            "At work [I'm leading a project called {project}], and it has to be done before the end of the year.",
            "Loads of meetings this week because [I'm leading a project called {project}] and the client changed the requirements.",
        ),
        answer="{project}",
        distractors=(
            "A neighbour has started a rooftop vegetable garden project and invited us to join.",
            "Another team named their project something very similar to {project}; zero imagination.",
        ),
        inflected=(
            "What's the name of the project I lead? I need it for the quarterly report.",
            "Which projects did I tell you I was running at work?",
        ),
        paraphrase=("What's the project I'm running at work called? I'm preparing slides.",),
        synonym=(
            "What was the codename of the initiative I'm in charge of at the office?",
            "What's the name of the initiative I manage? It's for the quarterly report.",
        ),
    ),
    "trip": SlotText(
        plants=(
            "Tickets booked: [in {trip_month} I'm travelling to {dest}] and I'm counting the days.",
            "I'm saving hard because [in {trip_month} I'm travelling to {dest}] with some friends.",
        ),
        answer="{dest}, in {trip_month}",
        distractors=(
            "My parents went to {dest} years ago and still talk about the food.",
            "What do I need for a two-day business trip? I always overpack.",
        ),
        inflected=(
            "When do I travel this year, and where to? I need to request time off.",
            "Where did I say I'd be travelling, and in which month?",
        ),
        paraphrase=("Which month am I off on my travels, and to which country? I need days off.",),
        synonym=(
            "Where am I going on holiday this year, and when?",
            "Where's my vacation this year, and in which month?",
        ),
    ),
    "locker": SlotText(
        plants=(
            "Writing this here so I don't forget: [my locker at the gym is number {locker}].",
            "They moved me to a different changing room at the gym and [my locker is now number {locker}], at the back on the right.",
        ),
        answer="{locker}",
        distractors=(
            "Someone's locker got broken into at the gym, so padlocks are now compulsory.",
            "The number {bus} bus is supposed to come every twenty minutes, but it's always late.",
        ),
        inflected=("Which of the gym lockers is mine? I've forgotten again.",),
        paraphrase=("What's the number of my locker? I've forgotten again.",),
        synonym=(
            "Which numbered cabinet is mine in the changing room at the fitness centre?",
            "What's my storage box number at the leisure centre?",
        ),
    ),
    "language": SlotText(
        plants=(
            "I've set myself a goal this year: [I'm learning {language}] with an app and classes on Tuesdays.",
            "In the evenings [I'm learning {language}], though the grammar is killing me.",
        ),
        answer="{language}",
        distractors=(
            "My niece is learning {other_language} at school and already sings songs in it.",
            "How many hours does it take to speak a new language well?",
        ),
        inflected=(
            "Which language do I learn in the evenings?",
            "What language did I say I'd learnt a bit of this year?",
        ),
        paraphrase=("Which language am I learning? I want some films to practise with.",),
        synonym=(
            "Which foreign tongue am I studying at the moment?",
            "What language am I studying in my spare time? I'm looking for an exchange partner.",
        ),
    ),
    "team": SlotText(
        plants=(
            "Don't bother me at kick-off on Sundays: [I support {team}], always have.",
            "Suffered badly watching the match last night, because [I support {team}] and we were losing.",
        ),
        answer="{team}",
        distractors=(
            "{team} won last night and the whole city was honking horns.",
            "A colleague supports {rival} and never stops winding me up about football.",
        ),
        inflected=("Which club did I say I was a supporter of?",),
        paraphrase=("Which team do I support? I want to buy tickets for the next match.",),
        synonym=(
            "Which football club am I a fan of? I want to buy a shirt.",
            "Who are my club? A friend wants to get me a scarf.",
        ),
    ),
}

ES_UPDATES: dict[str, UpdateText] = {
    "city": UpdateText(
        statements=(
            "Novedades: al final [me mudé de {city} a {new_city}] y sigo rodead{o} de cajas.",
            "Ya es oficial: [me he mudado de {city} a {new_city}] por trabajo, y todavía no encuentro nada.",
        ),
        questions=(
            "¿En qué ciudad vivo ahora mismo? Quiero buscar un dentista cerca.",
            "Con tantos cambios, ¿dónde vivo actualmente?",
        ),
        answer="{new_city}",
    ),
    "job": UpdateText(
        statements=(
            "Gran noticia: dejé {company} y [entré en {new_company}], con mejor horario y un equipo majísimo.",
            "Por fin me decidí: [me fui de {company} a {new_company}] y empiezo el lunes.",
        ),
        questions=(
            "¿En qué empresa estoy trabajando ahora? Lo necesito para un formulario del banco.",
            "¿Dónde trabajo actualmente? Me lo piden en una ficha.",
        ),
        answer="{new_company}",
    ),
    "pet": UpdateText(
        statements=(
            "{pet} se ha ido a vivir con mis padres al pueblo, que tienen jardín, así que [adoptamos a {new_pet}], {un_new_species} de dos años.",
        ),
        questions=(
            "¿Cómo se llama la mascota que tengo ahora en casa?",
            "¿Qué animal vive ahora conmigo y cómo se llama?",
        ),
        answer="{new_pet} ({new_species})",
    ),
    "car": UpdateText(
        statements=(
            "Vendí el {make} por fin y [me compré un {new_make} {new_colour}], que es híbrido.",
            "Al final cambié de coche: [ahora tengo un {new_make} {new_colour}] y gasta la mitad.",
        ),
        questions=(
            "¿Qué coche tengo ahora? Tengo que renovar el seguro.",
            "¿Cuál es mi coche actual? El del taller me lo pregunta.",
        ),
        answer="{new_make} {new_colour}",
    ),
}

EN_UPDATES: dict[str, UpdateText] = {
    "city": UpdateText(
        statements=(
            "Big news: [I moved from {city} to {new_city}] last month and I'm still surrounded by boxes.",
            "It's official, [I've moved from {city} to {new_city}] for work, and I can't find anything yet.",
        ),
        questions=(
            "Which city do I live in now? I need a dentist nearby.",
            "With all the changes, where am I living at the moment?",
        ),
        answer="{new_city}",
    ),
    "job": UpdateText(
        statements=(
            "Big change: [I quit {company} and joined {new_company}], better hours and a lovely team.",
            "I finally did it: [I left {company} for {new_company}] and I start on Monday.",
        ),
        questions=(
            "Which company am I working for now? The bank needs it for a form.",
            "Where do I work these days? A form is asking.",
        ),
        answer="{new_company}",
    ),
    "pet": UpdateText(
        statements=(
            "{pet} has gone to live with my parents, who have a garden, so [we adopted {new_pet}], {a_new_species} who's two years old.",
        ),
        questions=(
            "What's the name of the pet living with me now?",
            "Which animal lives with me at the moment, and what's it called?",
        ),
        answer="{new_pet} ({new_species})",
    ),
    "car": UpdateText(
        statements=(
            "I finally sold the {make} and [bought {a_new_car}], a hybrid.",
            "I changed cars in the end: [now I have {a_new_car}] and it uses half the fuel.",
        ),
        questions=(
            "Which car do I have now? I need to renew the insurance.",
            "What's my current car? The garage is asking.",
        ),
        answer="{new_colour} {new_make}",
    ),
}

ES_MULTI: tuple[MultiText, ...] = (
    MultiText(
        ("sibling", "city"),
        ("¿Mi {sib_rel} vive en la misma ciudad que yo? Lo pregunto para organizar la Navidad.",),
        "{same_city}: tú vives en {city} y {sibling} en {sibling_city}",
    ),
    MultiText(
        ("food", "allergy"),
        (
            "Mi {rel} quiere cocinarme mi comida preferida; ¿qué plato es y qué ingrediente debe evitar por mi alergia?",
        ),
        "{food}; evitar {allergen}",
    ),
    MultiText(
        ("trip", "birthday"),
        ("¿Mi viaje de este año cae en el mismo mes que mi cumpleaños?",),
        "{same_month}: viaje en {trip_month}, cumpleaños el {bday_day} de {bday_month}",
    ),
    MultiText(
        ("partner", "child"),
        (
            "Quiero encargar unas tazas con los nombres de mi {rel} y de mi {child_rel}; ¿qué nombres pongo?",
        ),
        "{partner} y {child}",
    ),
    MultiText(
        ("university", "job"),
        ("¿Trabajo en algo relacionado con lo que estudié en la universidad?",),
        "estudiaste {degree}; trabajas como {job} en {company}",
    ),
    MultiText(
        ("pet", "partner"),
        ("Para la felicitación de Navidad, ¿cómo se llaman mi {rel} y mi {species}?",),
        "{partner} y {pet}",
    ),
    MultiText(
        ("sibling", "trip"),
        ("¿Podría aprovechar el viaje de este año para visitar a mi {sib_rel}?",),
        "viajas a {dest}; {sibling} vive en {sibling_city}",
    ),
)

EN_MULTI: tuple[MultiText, ...] = (
    MultiText(
        ("sibling", "city"),
        ("Does my {sib_rel} live in the same city as me? I'm planning Christmas.",),
        "{same_city}: you live in {city} and {sibling} in {sibling_city}",
    ),
    MultiText(
        ("food", "allergy"),
        (
            "My {rel} wants to cook my favourite meal; which dish is it, and what ingredient must be left out because of my allergy?",
        ),
        "{food}; avoid {allergen}",
    ),
    MultiText(
        ("trip", "birthday"),
        ("Does my trip this year fall in the same month as my birthday?",),
        "{same_month}: trip in {trip_month}, birthday on {bday_month} {bday_day}",
    ),
    MultiText(
        ("partner", "child"),
        (
            "I'm ordering mugs with the names of my {rel} and my {child_rel}; which names should I put?",
        ),
        "{partner} and {child}",
    ),
    MultiText(
        ("university", "job"),
        ("Is my job related to what I studied at university?",),
        "you studied {degree}; you work as {a_job} at {company}",
    ),
    MultiText(
        ("pet", "partner"),
        ("For the Christmas card, what are the names of my {rel} and my {species}?",),
        "{partner} and {pet}",
    ),
    MultiText(
        ("sibling", "trip"),
        ("Could I use my trip this year to visit my {sib_rel}?",),
        "you travel to {dest}; {sibling} lives in {sibling_city}",
    ),
)

QUESTION_OPENERS = {
    "es": ("", "", "Por cierto, ", "Una pregunta rápida: ", "Oye, ", "Vale, otra cosa: ",
           "Cambiando de tema, ", "Perdona que vuelva a lo personal: "),
    "en": ("", "", "By the way, ", "Quick question: ", "Hey, ", "Random one: ",
           "Changing the subject, ", "Sorry to go back to personal stuff: "),
}  # fmt: skip

# --------------------------------------------------------------------------------------------------
# Persona value banks.

ES_NAMES_F = _words(
    "Lucía María Carmen Paula Elena Sofía Valentina Camila Daniela Isabel Marta Laura Ana Julia "
    "Irene Alba Natalia Gabriela Verónica Rocío Ximena Renata Inés Claudia Lorena Beatriz",
    " ",
)
ES_NAMES_M = _words(
    "Javier Carlos Andrés Miguel Diego Alejandro Pablo Sergio Mateo Santiago Tomás Rodrigo Felipe "
    "Gonzalo Iván Hugo Álvaro Emilio Nicolás Raúl Joaquín Marcos Fernando Óscar Ignacio Esteban",
    " ",
)
ES_SURNAMES = _words(
    "Ferrer García Morales Castillo Rojas Navarro Quintero Salazar Ortega Delgado Paredes Cifuentes "
    "Vidal Herrera Medina Aguirre Bustamante Campos Iglesias Peña Robles Soler Vallejo Zamora",
    " ",
)
EN_NAMES_F = _words(
    "Emma Olivia Sophie Grace Chloe Hannah Megan Lucy Rachel Abigail Zoe Naomi Isla Freya Harriet "
    "Claire Maya Ruth Nora Eleanor Jessica Amelia Bethany Imogen",
    " ",
)
EN_NAMES_M = _words(
    "James Oliver Daniel Thomas Liam Ethan Henry Samuel Owen Callum Patrick Nathan Adam Lewis "
    "George Ryan Isaac Felix Rory Simon Martin Joel Gareth Declan",
    " ",
)
EN_SURNAMES = _words(
    "Whitaker Hughes Bennett Carter Doyle Fletcher Gallagher Harper Jennings Kerr Lawson Mercer "
    "Nolan Osborne Prescott Quinn Reeves Sutton Thornton Underwood Walsh Yates Pemberton Ashdown",
    " ",
)

ES_CITIES = _words(
    "Bogotá|Lima|Madrid|Sevilla|Quito|Santiago|Buenos Aires|Montevideo|Monterrey|Medellín|Cali|"
    "Bilbao|Zaragoza|Málaga|Granada|Córdoba|Rosario|Cusco|Arequipa|La Paz|Asunción|Cartagena|"
    "Valparaíso|Mendoza|Puebla|Oaxaca|Mérida|Vigo|Gijón|Alicante|Murcia|Pamplona|Barranquilla"
)
EN_CITIES = _words(
    "Manchester|Bristol|Boston|Denver|Austin|Seattle|Toronto|Vancouver|Melbourne|Perth|Dublin|"
    "Cork|Edinburgh|Glasgow|Portland|Chicago|Atlanta|Auckland|Wellington|Brighton|Cardiff|Ottawa|"
    "Calgary|Adelaide|Brisbane|Nashville|Phoenix|Sheffield|Liverpool|Oxford|York|Belfast"
)

ES_JOBS = (  # (masculine, feminine)
    ("enfermero", "enfermera"), ("profesor de secundaria", "profesora de secundaria"),
    ("ingeniero de caminos", "ingeniera de caminos"), ("contable", "contable"),
    ("arquitecto", "arquitecta"), ("diseñador gráfico", "diseñadora gráfica"),
    ("abogado laboralista", "abogada laboralista"), ("farmacéutico", "farmacéutica"),
    ("periodista", "periodista"), ("veterinario", "veterinaria"), ("electricista", "electricista"),
    ("cocinero", "cocinera"), ("programador", "programadora"), ("fisioterapeuta", "fisioterapeuta"),
    ("traductor", "traductora"), ("bibliotecario", "bibliotecaria"), ("dentista", "dentista"),
    ("psicólogo", "psicóloga"), ("analista de datos", "analista de datos"),
    ("técnico de laboratorio", "técnica de laboratorio"),
)  # fmt: skip
EN_JOBS = _words(
    "nurse|secondary school teacher|civil engineer|accountant|architect|graphic designer|"
    "employment lawyer|pharmacist|journalist|vet|electrician|chef|software developer|"
    "physiotherapist|translator|librarian|dentist|data analyst|paramedic|lab technician|"
    "occupational therapist|quantity surveyor"
)
ES_COMPANY_KINDS = _words(
    "Grupo Talleres Laboratorios Construcciones Editorial Seguros Transportes Bodegas Clínica "
    "Consultora Distribuciones Ópticas",
    " ",
)
ES_COMPANY_NAMES = _words(
    "Altamira Ébano Miramar Quiroga Solana Vértice Alborada Nervión Arrayán Guadiana Cierzo "
    "Almenara Candela Mirador Robledal Tajo",
    " ",
)
EN_COMPANY_NAMES = _words(
    "Brightwave Copperfield Northgate Bluefin Hollis Redwood Larkspur Ironbridge Silverline "
    "Kestrel Ashgrove Fairhaven Blackthorn Westmoor Harrowby Calder",
    " ",
)
EN_COMPANY_KINDS = _words(
    "Labs Analytics Logistics Insurance Media Systems Health Foods Partners Engineering Publishing "
    "Energy",
    " ",
)

ES_SPECIES = (  # (species, indefinite article, definite article, plural)
    ("perro", "un", "el", "perros"), ("perra", "una", "la", "perras"),
    ("gato", "un", "el", "gatos"), ("gata", "una", "la", "gatas"),
    ("conejo", "un", "el", "conejos"), ("loro", "un", "el", "loros"),
    ("tortuga", "una", "la", "tortugas"), ("hurón", "un", "el", "hurones"),
    ("cobaya", "una", "la", "cobayas"), ("hámster", "un", "el", "hámsteres"),
)  # fmt: skip
EN_SPECIES = _words("dog|cat|rabbit|parrot|tortoise|ferret|hamster|guinea pig|greyhound|beagle")
ES_PET_NAMES = _words(
    "Toby Luna Coco Rocky Nala Simba Kira Bruno Lola Pipo Canela Thor Mora Chispa Oreo Tango Gala "
    "Rufo Nube Zeus Pelusa Trufa Bimba Kiwi",
    " ",
)
EN_PET_NAMES = _words(
    "Biscuit Pepper Max Daisy Milo Rosie Ziggy Hazel Otis Pickles Bella Murphy Willow Scout "
    "Crumble Nutmeg Teddy Marmite Pixel Waffles Bonnie Sprout",
    " ",
)

ES_PARTNERS = (("marido", "m"), ("mujer", "f"), ("novio", "m"), ("novia", "f"))
EN_PARTNERS = (("husband", "m"), ("wife", "f"), ("boyfriend", "m"), ("girlfriend", "f"))

ES_ALLERGENS = (  # (bare, with the preposition "a")
    ("cacahuetes", "a los cacahuetes"), ("marisco", "al marisco"), ("nueces", "a las nueces"),
    ("fresas", "a las fresas"), ("kiwi", "al kiwi"), ("huevo", "al huevo"),
    ("sésamo", "al sésamo"), ("mostaza", "a la mostaza"), ("melocotón", "al melocotón"),
    ("gambas", "a las gambas"), ("avellanas", "a las avellanas"), ("apio", "al apio"),
)  # fmt: skip
EN_ALLERGENS = _words(
    "peanuts|shellfish|walnuts|strawberries|kiwi|eggs|sesame|mustard|peaches|prawns|hazelnuts|"
    "celery"
)

ES_MONTHS = _words(
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre", " "
)
EN_MONTHS = _words(
    "January February March April May June July August September October November December", " "
)

ES_MAKES = _words(
    "Seat Renault Toyota Kia Peugeot Ford Citroën Hyundai Volkswagen Fiat Mazda Skoda Nissan Opel "
    "Dacia Honda Volvo Subaru",
    " ",
)
EN_MAKES = _words(
    "Ford Toyota Kia Honda Volkswagen Vauxhall Hyundai Mazda Skoda Nissan Volvo Subaru Renault "
    "Peugeot Fiat Mini",
    " ",
)
ES_COLOURS = _words("rojo azul blanco negro gris verde plateado granate amarillo naranja beis", " ")
EN_COLOURS = _words("red blue white black grey green silver maroon yellow orange", " ")

ES_HOBBIES = _words(
    "escalada|cerámica|ajedrez|fotografía|remo|natación|tiro con arco|baile|esgrima|acuarela|"
    "piragüismo|senderismo|ganchillo|carpintería|yoga|boxeo|pilates|surf"
)
EN_HOBBIES = _words(
    "rock climbing|pottery|chess|photography|rowing|gardening|open-water swimming|archery|"
    "salsa dancing|fencing|watercolour painting|kayaking|hill walking|knitting|woodworking|"
    "birdwatching|bouldering|sourdough baking"
)

ES_FOODS = _words(
    "paella|lasaña|tortilla de patatas|ceviche|arepas|cocido madrileño|pulpo a la gallega|"
    "enchiladas|croquetas de jamón|gazpacho|empanadas|ramen|sushi|musaka|fabada|ajiaco|"
    "mole poblano|lentejas con chorizo|ají de gallina|bandeja paisa"
)
EN_FOODS = _words(
    "lasagne|fish and chips|ramen|shepherd's pie|pad thai|tacos al pastor|chicken tikka masala|"
    "mac and cheese|sushi|beef stew|mushroom risotto|pho|falafel wraps|paella|Swedish meatballs|"
    "fish pie|carbonara|jambalaya"
)

ES_DEGREES = _words(
    "Arquitectura|Derecho|Biología|Periodismo|Química|Historia|Medicina|Económicas|"
    "Filología Inglesa|Ingeniería Civil|Psicología|Bellas Artes|Matemáticas|Geografía"
)
ES_UNIVERSITIES = _words(
    "Universidad de Salamanca|Universidad Complutense|Universidad de los Andes|"
    "Universidad de Granada|UNAM|Universidad de Chile|Universidad de Sevilla|"
    "Universidad de Buenos Aires|Universidad Nacional de Colombia|Universidad de Valencia|"
    "Pontificia Universidad Católica del Perú|Universidad de Oviedo|Universidad de la República|"
    "Universidad de Guadalajara"
)
EN_DEGREES = _words(
    "History|Law|Biology|Journalism|Chemistry|Medicine|Economics|English Literature|"
    "Civil Engineering|Psychology|Fine Art|Mathematics|Architecture|Geography"
)
EN_UNIVERSITIES = _words(
    "the University of Leeds|Trinity College Dublin|the University of Toronto|Boston University|"
    "the University of Edinburgh|McGill|the University of Melbourne|King's College London|"
    "the University of Bristol|Ohio State|the University of Auckland|the University of Texas|"
    "Cardiff University|the University of Sheffield"
)

ES_PROJECTS = _words(
    "Atlas Girasol Faro Nébula Cometa Orquídea Brújula Halcón Marea Quimera Zafiro Aurora "
    "Centella Ámbar Mistral Tramontana Alhambra Cóndor Colibrí Ceiba",
    " ",
)
EN_PROJECTS = _words(
    "Bluebird Lighthouse Falcon Nimbus Keystone Sundial Orchid Compass Juniper Tidewater "
    "Kingfisher Granite Halcyon Meridian Lantern Skylark Bramble Monsoon Quarry Osprey",
    " ",
)

ES_DESTINATIONS = _words(
    "Japón|Islandia|Marruecos|Perú|Noruega|Vietnam|Grecia|Escocia|Cuba|México|Tailandia|Egipto|"
    "Canadá|Croacia|Nueva Zelanda|Portugal|Kenia|Argentina|Turquía|India"
)
EN_DESTINATIONS = _words(
    "Japan|Iceland|Morocco|Peru|Norway|Vietnam|Greece|Portugal|Mexico|Thailand|Egypt|Croatia|"
    "New Zealand|Kenya|Argentina|Turkey|India|Chile|Sri Lanka|Jordan"
)

ES_LANGUAGES = _words(
    "japonés alemán italiano coreano francés árabe ruso portugués chino sueco neerlandés griego "
    "turco",
    " ",
)
EN_LANGUAGES = _words(
    "Japanese German Italian Korean French Arabic Russian Portuguese Mandarin Swedish Dutch Greek "
    "Turkish Spanish",
    " ",
)

ES_TEAMS = (  # (name, "soy ___", "ganó ___")
    ("Betis", "del Betis", "el Betis"), ("Athletic", "del Athletic", "el Athletic"),
    ("Real Sociedad", "de la Real Sociedad", "la Real Sociedad"), ("Celta", "del Celta", "el Celta"),
    ("Osasuna", "de Osasuna", "Osasuna"), ("Boca Juniors", "de Boca", "Boca"),
    ("River Plate", "de River", "River"), ("Millonarios", "de Millonarios", "Millonarios"),
    ("Alianza Lima", "de Alianza Lima", "Alianza Lima"),
    ("Universitario", "de Universitario", "Universitario"), ("Colo-Colo", "del Colo-Colo", "el Colo-Colo"),
    ("Peñarol", "de Peñarol", "Peñarol"), ("América", "del América", "el América"),
    ("Chivas", "de Chivas", "Chivas"), ("Deportivo", "del Deportivo", "el Deportivo"),
    ("Racing", "del Racing", "el Racing"),
)  # fmt: skip
EN_TEAMS = _words(
    "Newcastle|Leeds United|Everton|Aston Villa|Celtic|Sunderland|Nottingham Forest|Bristol City|"
    "Hibernian|Shamrock Rovers|Seattle Sounders|Toronto FC|Melbourne Victory|LA Galaxy|Wolves|"
    "Norwich City|Hearts|Brentford"
)


def _pick_distinct(rng: random.Random, pool: Sequence, count: int, avoid: Sequence = ()) -> list:
    return rng.sample([item for item in pool if item not in avoid], count)


def make_persona(rng: random.Random, language: str) -> dict[str, str]:
    """Every value a conversation's templates may use, drawn from the banks above."""
    es = language == "es"
    gender = rng.choice("fm")
    names_f, names_m = (ES_NAMES_F, ES_NAMES_M) if es else (EN_NAMES_F, EN_NAMES_M)
    surnames = ES_SURNAMES if es else EN_SURNAMES
    cities = ES_CITIES if es else EN_CITIES
    months = ES_MONTHS if es else EN_MONTHS
    p: dict[str, str] = {}
    used_names: set[str] = set()

    def person(sex: str) -> str:
        name = rng.choice([n for n in (names_f if sex == "f" else names_m) if n not in used_names])
        used_names.add(name)
        return name

    p["first"] = person(gender)
    p["last"] = rng.choice(surnames)
    p["full"] = f"{p['first']} {p['last']}"
    p["o"] = "a" if gender == "f" else "o"

    city, new_city, other_city = _pick_distinct(rng, cities, 3)
    p.update(city=city, new_city=new_city, other_city=other_city)

    if es:
        job_m, job_f = rng.choice(ES_JOBS)
        p.update(job=job_f if gender == "f" else job_m, job_m=job_m, job_f=job_f)
        companies = [f"{k} {n}" for k in ES_COMPANY_KINDS for n in ES_COMPANY_NAMES]
    else:
        p["job"] = rng.choice(EN_JOBS)
        p["a_job"] = ("an " if p["job"][0] in "aeiou" else "a ") + p["job"]
        companies = [f"{n} {k}" for n in EN_COMPANY_NAMES for k in EN_COMPANY_KINDS]
    company = rng.choice(companies)
    company_name = company.split()[1] if es else company.split()[0]
    new_company = rng.choice([c for c in companies if company_name not in c])
    p.update(company=company, new_company=new_company)

    if es:
        (species, un, _el, _plural), new = _pick_distinct(rng, ES_SPECIES, 2)
        p.update(species=species, un_species=f"{un} {species}")
        p.update(new_species=new[0], un_new_species=f"{new[1]} {new[0]}")
        pet, new_pet = _pick_distinct(rng, ES_PET_NAMES, 2)
    else:
        species, new_species = _pick_distinct(rng, EN_SPECIES, 2)
        p.update(species=species, a_species=f"a {species}", new_species=new_species)
        p["a_new_species"] = f"a {new_species}"
        pet, new_pet = _pick_distinct(rng, EN_PET_NAMES, 2)
    p.update(pet=pet, new_pet=new_pet)

    partners = ES_PARTNERS if es else EN_PARTNERS
    rel, rel_sex = rng.choice(partners)
    p.update(rel=rel, partner=person(rel_sex))
    # Another couple's partner, in the distractors: "El marido de mi compañera", "My colleague's wife".
    p["rel_other"] = ("novio" if rel.startswith("novi") else "marido") if es else rel

    child_sex = rng.choice("fm")
    p["child"] = person(child_sex)
    p["child_age"] = str(rng.randint(3, 16))
    p["small_number"] = rng.choice(["cinco", "seis", "siete"] if es else ["five", "six", "seven"])
    if es:
        p["child_rel"] = "hija" if child_sex == "f" else "hijo"
        p["el_child_rel_cap"] = "La hija" if child_sex == "f" else "El hijo"
        p["child_syn"] = "niña" if child_sex == "f" else "niño"
        p["el_child_syn"] = "la peque" if child_sex == "f" else "el peque"
        p["un_child_syn"] = "una niña" if child_sex == "f" else "un niño"
        p["child_o"] = "a" if child_sex == "f" else "o"
    else:
        p["child_rel"] = "daughter" if child_sex == "f" else "son"

    sib_sex = rng.choice("fm")
    p["sibling"] = person(sib_sex)
    same_city = rng.random() < 0.3
    p["sibling_city"] = (
        city
        if same_city
        else rng.choice([c for c in cities if c not in (city, new_city, other_city)])
    )
    if es:
        p["sib_rel"] = "hermana" if sib_sex == "f" else "hermano"
        p["una_sib_rel"] = "una hermana" if sib_sex == "f" else "un hermano"
        p["sib_plural"] = "hermanas" if sib_sex == "f" else "hermanos"
        p["same_city"] = "Sí" if same_city else "No"
    else:
        p["sib_rel"] = "sister" if sib_sex == "f" else "brother"
        p["sib_plural"] = "sisters" if sib_sex == "f" else "brothers"
        p["same_city"] = "Yes" if same_city else "No"

    if es:
        p["allergen"], p["a_allergen"] = rng.choice(ES_ALLERGENS)
        p["allergic"] = "alérgica" if gender == "f" else "alérgico"
    else:
        p["allergen"] = rng.choice(EN_ALLERGENS)

    bday_month, other_month = _pick_distinct(rng, months, 2)
    p.update(bday_day=str(rng.randint(1, 28)), bday_month=bday_month, other_month=other_month)
    same_month = rng.random() < 0.3
    p["trip_month"] = (
        bday_month if same_month else rng.choice([m for m in months if m != bday_month])
    )
    p["same_month"] = ("Sí" if es else "Yes") if same_month else "No"

    makes, colours = (ES_MAKES, ES_COLOURS) if es else (EN_MAKES, EN_COLOURS)
    make, new_make = _pick_distinct(rng, makes, 2)
    colour, new_colour = rng.choice(colours), rng.choice(colours)
    p.update(make=make, colour=colour, new_make=new_make, new_colour=new_colour)
    if not es:
        p["a_car"] = ("an " if colour[0] in "aeiou" else "a ") + f"{colour} {make}"
        p["a_new_car"] = ("an " if new_colour[0] in "aeiou" else "a ") + f"{new_colour} {new_make}"

    hobby, other_hobby = _pick_distinct(rng, ES_HOBBIES if es else EN_HOBBIES, 2)
    p.update(hobby=hobby, other_hobby=other_hobby)
    p["food"] = rng.choice(ES_FOODS if es else EN_FOODS)
    p["degree"] = rng.choice(ES_DEGREES if es else EN_DEGREES)
    p["uni"] = rng.choice(ES_UNIVERSITIES if es else EN_UNIVERSITIES)
    p["project"] = rng.choice(ES_PROJECTS if es else EN_PROJECTS)
    p["dest"] = rng.choice(ES_DESTINATIONS if es else EN_DESTINATIONS)
    p["locker"] = str(rng.randint(101, 899))
    p["bus"] = str(rng.randint(10, 99))
    language_learnt, other_language = _pick_distinct(rng, ES_LANGUAGES if es else EN_LANGUAGES, 2)
    p.update(language=language_learnt, other_language=other_language)
    if es:
        team, rival = _pick_distinct(rng, ES_TEAMS, 2)
        p.update(team=team[0], del_team=team[1], el_team=team[2], del_rival=rival[1])
    else:
        p["team"], p["rival"] = _pick_distinct(rng, EN_TEAMS, 2)
    return p


# --------------------------------------------------------------------------------------------------
# Filler: everyday requests and chat, from templates and word banks. Placeholders name a bank
# (a trailing digit asks for a different value from the same bank) or a persona value.

ES_BANKS: dict[str, tuple[str, ...]] = {
    "ing": _words(
        "garbanzos|calabacín|berenjena|pimientos|cebolla morada|champiñones|espinacas|"
        "queso de cabra|salmón|bacalao|pollo|arroz integral|quinoa|tomates cherry|ajo|jengibre|"
        "cilantro|limón|boniato|coliflor|alcachofas|puerro|calabaza|yogur griego|harina de avena|"
        "pan duro|tofu|judías verdes|anchoas|aguacate"
    ),
    "dish": _words(
        "crema de calabaza|pollo al curry|risotto de setas|ensalada de lentejas|pisto|salmorejo|"
        "tortitas|bizcocho de yogur|hummus|albóndigas en salsa|canelones|pan de plátano|"
        "sopa de miso|arroz con leche|flan casero|berenjenas rellenas|wok de verduras|"
        "merluza en salsa verde|quiche de puerro|torrijas"
    ),
    "sport": _words("fútbol|baloncesto|tenis|balonmano|ciclismo|voleibol|rugby|atletismo"),
    "exercise": _words(
        "correr|montar en bici|nadar|hacer pesas|subir escaleras|caminar a paso rápido|"
        "saltar a la comba"
    ),
    "film_kind": _words(
        "una película de ciencia ficción|un thriller nórdico|una comedia romántica|"
        "un documental de naturaleza|una película de animación|un western clásico|"
        "una película de terror que no dé demasiado miedo|un drama judicial|"
        "una película de atracos|un musical"
    ),
    "series_kind": _words(
        "de misterio|histórica|de humor|de cocina|policiaca|de época|de ciencia ficción|de médicos"
    ),
    "book_kind": _words(
        "policiaca|de aventuras|histórica|de humor|de ciencia ficción|corta|juvenil|de viajes"
    ),
    "weather": _words(
        "lluvia|una ola de calor|viento fuerte|tormenta|niebla|nieve|granizo|frío polar"
    ),
    "weather_noun": _words(
        "niebla|granizo|escarcha|tormenta eléctrica|calima|nieve|rocío|gota fría"
    ),
    "weather_adj": _words("calor|bochorno|humedad|ola de calor"),
    "ref_sport": _words("fútbol|baloncesto|balonmano|rugby|waterpolo"),
    "photo_device": _words("móvil|portátil"),
    "work_doc": _words(
        "una presentación|el informe mensual|el presupuesto del trimestre|un acta de reunión|"
        "la propuesta para un cliente|un plan de formación|el cierre de cuentas"
    ),
    "work_topic": _words(
        "el reparto de vacaciones|las prioridades del trimestre|el teletrabajo|"
        "el nuevo software de gestión|los turnos de guardia|el presupuesto"
    ),
    "weekday": _words("lunes martes miércoles jueves viernes", " "),
    "world_city": _words(
        "Roma|Lisboa|Praga|Berlín|Oporto|Viena|Ámsterdam|Estambul|Copenhague|Budapest|Londres|"
        "París|Nueva York|Tokio|Ciudad de México|Edimburgo|Cracovia|Atenas"
    ),
    "device": _words(
        "portátil|móvil|ordenador de sobremesa|router|tablet|televisor|reloj inteligente"
    ),
    "tech": _words(
        "la memoria RAM y el almacenamiento|el 4G y el 5G|un SSD y un disco duro|"
        "la nube y una copia local|el wifi de 2,4 y de 5 GHz|una VPN y un proxy|"
        "HTTP y HTTPS"
    ),
    "tech_concept": _words(
        "la inteligencia artificial|una base de datos|el cifrado de extremo a extremo|"
        "una dirección IP|el blockchain|una API|el phishing|un algoritmo"
    ),
    "num": _words("50|100|200|1000|15|30"),
    "place": _words("supermercado|metro|ascensor|banco|mercado|aeropuerto|cine|ayuntamiento"),
    "animal": _words(
        "los pulpos|las abejas|los pingüinos|los cuervos|las ballenas|los elefantes|"
        "las hormigas|los delfines|los murciélagos"
    ),
    "hour": _words("cuatro|cinco|tres y media|cuatro y media"),
    "plant": _words("monstera|albahaca|potos|orquídea|hiedra|lavanda|menta|ficus"),
    "appliance": _words("la lavadora|el horno|el lavavajillas|la secadora|la nevera"),
    "topic": _words(
        "los agujeros negros|la Revolución francesa|cómo funciona una vacuna|la inflación|"
        "el cambio climático|los volcanes|la fotosíntesis|las mareas|el sistema inmunitario|"
        "la historia del café"
    ),
    "gift_for": _words(
        "mi sobrino|una compañera que se jubila|mis suegros|un amigo que cumple cuarenta|"
        "la profesora de baile|mi vecina del quinto"
    ),
    "stain": _words("vino tinto|café|aceite|tinta de bolígrafo|hierba|chocolate|maquillaje"),
    "spelling": _words(
        "«haber» y cuándo «a ver»|«porque» y cuándo «por qué»|«sino» y cuándo «si no»|"
        "«echo» y cuándo «hecho»|«aun» y cuándo «aún»|«tampoco» y cuándo «tan poco»"
    ),
    "word": _words("ojalá|almohada|chapuza|mequetrefe|zanahoria|alcalde|azúcar|guiri|tiquismiquis"),
    "cups": _words("dos|tres|una y media|dos y media"),
    "school_topic": _words(
        "las fracciones|la regla de tres|el ciclo del agua|los verbos irregulares|"
        "el teorema de Pitágoras|las capas de la Tierra|la división con decimales"
    ),
    "instrument": _words("la guitarra|el piano|el ukelele|la batería|el saxofón|el violín"),
    "season": _words("primavera verano otoño", " "),
    "podcast_topic": _words(
        "historia|ciencia|economía|crímenes reales|filosofía|cine clásico|psicología"
    ),
    "poem_topic": _words("la lluvia|el otoño|el mar|los lunes|el café|la amistad|las mudanzas"),
    "country": _words("Australia|Canadá|Turquía|Suiza|Nueva Zelanda|Brasil|Marruecos|Vietnam"),
    "fahrenheit": _words("70 80 85 100 50", " "),
    "saving": _words(
        "un fondo indexado o un depósito|una cuenta remunerada o un plan de pensiones|"
        "pagar antes la hipoteca o invertir"
    ),
    "gift_interest": _words(
        "la astronomía|el té|la fotografía analógica|los puzles|el senderismo|la cocina asiática|"
        "los vinilos"
    ),
}
EN_BANKS: dict[str, tuple[str, ...]] = {
    "ing": _words(
        "chickpeas|courgette|aubergine|peppers|red onion|mushrooms|spinach|goat's cheese|salmon|"
        "cod|chicken thighs|brown rice|quinoa|cherry tomatoes|garlic|ginger|coriander|lemon|"
        "sweet potato|cauliflower|leeks|butternut squash|Greek yoghurt|oats|stale bread|tofu|"
        "green beans|anchovies|avocado|feta"
    ),
    "dish": _words(
        "butternut squash soup|chicken curry|mushroom risotto|lentil salad|ratatouille|pancakes|"
        "banana bread|hummus|meatballs in tomato sauce|cannelloni|miso soup|rice pudding|"
        "stuffed peppers|vegetable stir-fry|cod in parsley sauce|leek quiche|bread and butter pudding|"
        "chilli con carne|flapjacks|cottage pie"
    ),
    "sport": _words("football|basketball|tennis|cricket|cycling|volleyball|rugby|athletics"),
    "exercise": _words(
        "running|a long bike ride|swimming|a spin class|climbing stairs|a weights session|"
        "an hour of brisk walking"
    ),
    "film_kind": _words(
        "a science fiction film|a Nordic thriller|a romantic comedy|a nature documentary|"
        "an animated film|a classic western|a horror film that isn't too scary|a courtroom drama|"
        "a heist film|a musical"
    ),
    "series_kind": _words("mystery|historical|comedy|cooking|crime|period|sci-fi|hospital"),
    "book_kind": _words(
        "crime|adventure|historical|funny|science fiction|short|young adult|travel"
    ),
    "weather": _words("rain|a heatwave|strong winds|a thunderstorm|fog|snow|hail|a cold snap"),
    "weather_noun": _words("fog|hail|frost|lightning|a rainbow|snow|dew|a storm surge"),
    "weather_adj": _words("heat|humidity|muggy weather|heatwave"),
    "ref_sport": _words("football|basketball|rugby|handball|water polo"),
    "photo_device": _words("phone|laptop|tablet"),
    "work_doc": _words(
        "a presentation|the monthly report|the quarterly budget|meeting minutes|"
        "a proposal for a client|a training plan|the year-end accounts"
    ),
    "work_topic": _words(
        "the holiday rota|the quarter's priorities|working from home|the new management software|"
        "the on-call schedule|the budget"
    ),
    "weekday": _words("Monday Tuesday Wednesday Thursday Friday", " "),
    "world_city": _words(
        "Rome|Lisbon|Prague|Berlin|Porto|Vienna|Amsterdam|Istanbul|Copenhagen|Budapest|Paris|"
        "New York|Tokyo|Mexico City|Krakow|Athens|Barcelona|Reykjavik"
    ),
    "device": _words("laptop|phone|desktop computer|router|tablet|TV|smartwatch"),
    "tech": _words(
        "RAM and storage|4G and 5G|an SSD and a hard drive|the cloud and a local backup|"
        "2.4 and 5 GHz Wi-Fi|a VPN and a proxy|HTTP and HTTPS"
    ),
    "tech_concept": _words(
        "artificial intelligence|a database|end-to-end encryption|an IP address|blockchain|"
        "an API|phishing|an algorithm"
    ),
    "num": _words("50|100|200|1000|15|30"),
    "place": _words("supermarket|Tube|lift|bank|market|airport|cinema|town hall"),
    "animal": _words("octopuses|bees|penguins|crows|whales|elephants|ants|dolphins|bats"),
    "hour": _words("four|five|half three|half four"),
    "plant": _words("monstera|basil|pothos|orchid|ivy|lavender|mint|fiddle-leaf fig"),
    "appliance": _words("the washing machine|the oven|the dishwasher|the tumble dryer|the fridge"),
    "topic": _words(
        "black holes|the French Revolution|how vaccines work|inflation|climate change|volcanoes|"
        "photosynthesis|tides|the immune system|the history of coffee"
    ),
    "gift_for": _words(
        "my nephew|a colleague who's retiring|my in-laws|a friend turning forty|"
        "the dance teacher|my neighbour upstairs"
    ),
    "stain": _words("red wine|coffee|oil|biro ink|grass|chocolate|make-up"),
    "spelling": _words(
        "'affect' and when 'effect'|'fewer' and when 'less'|'who' and when 'whom'|"
        "'its' and when 'it's'|'lay' and when 'lie'|'further' and when 'farther'"
    ),
    "word": _words("salary|quarantine|sandwich|nightmare|clue|muscle|window|disaster|berserk"),
    "cups": _words("two|three|one and a half|two and a half"),
    "school_topic": _words(
        "fractions|long division|the water cycle|irregular verbs|Pythagoras' theorem|"
        "the layers of the Earth|decimals"
    ),
    "instrument": _words("the guitar|the piano|the ukulele|the drums|the saxophone|the violin"),
    "season": _words("spring summer autumn", " "),
    "podcast_topic": _words(
        "history|science|economics|true crime|philosophy|classic cinema|psychology"
    ),
    "poem_topic": _words("rain|autumn|the sea|Mondays|coffee|friendship|moving house"),
    "country": _words("Australia|Canada|Turkey|Switzerland|New Zealand|Brazil|Morocco|Vietnam"),
    "fahrenheit": _words("70 80 85 100 50", " "),
    "saving": _words(
        "an index fund or a savings account|an ISA or a pension|paying off the mortgage early or "
        "investing"
    ),
    "gift_interest": _words(
        "astronomy|tea|film photography|jigsaw puzzles|hiking|Asian cooking|vinyl records"
    ),
}

ES_FILLER = (
    # cooking
    "¿Cómo puedo hacer {dish} sin horno? Tengo {ing} y {ing2} en la nevera y poco tiempo.",
    "Dame una idea de cena rápida con {ing}, {ing2} y algo de {ing3}, que hoy llego tardísimo.",
    "¿Cuánto tiempo aguanta {dish} en la nevera? Hice demasiada cantidad el domingo.",
    "¿Se puede congelar {ing} o pierde textura al descongelarlo?",
    "Quiero aprender a hacer {dish} como lo hacía mi abuela; ¿qué truco tiene para que quede jugoso?",
    "¿Qué vino pega con {dish}? Tengo invitados el {weekday} y no entiendo nada de vinos.",
    "¿Por qué me queda {dish} siempre tan seco? Sigo la receta al pie de la letra.",
    "¿Con qué puedo sustituir {ing} en una receta de {dish}?",
    "Planifícame las comidas de la semana aprovechando {ing}, {ing2} y {ing3}, sin repetir plato.",
    # sport and health
    "¿Qué estiramientos me recomiendas después de {exercise}? Al día siguiente siempre tengo agujetas.",
    "Anoche vi el partido de {ref_sport} y el arbitraje fue un desastre; ¿tú qué opinas del videoarbitraje?",
    "Quiero empezar a hacer deporte: ¿es mejor por la mañana o por la tarde para alguien que nunca ha entrenado?",
    "Si quiero notar mejoría en dos meses, ¿cuántos días por semana me toca {exercise}?",
    "¿Cuántas horas debería dormir un adulto? Últimamente me despierto a las {hour} y no me vuelvo a dormir.",
    "Paso muchas horas sentad{o} delante del ordenador: ¿qué ejercicios sencillos hago para la espalda?",
    "¿Es verdad que hay que beber dos litros de agua al día o es un mito?",
    "¿Qué reglas tiene el {sport}? Mañana voy a ver un partido y no quiero parecer perdid{o}.",
    # films, books, music
    "¿Me recomiendas {film_kind} para este fin de semana? Algo que no dure más de dos horas.",
    "Ayer vi {film_kind} y el final me dejó fatal; ¿conoces alguna parecida con final feliz?",
    "¿Qué serie {series_kind} me recomiendas para ver en familia los domingos por la tarde?",
    "Me apetece leer algo ligero; ¿me recomiendas una novela {book_kind} que enganche desde el principio?",
    "Hazme una lista de canciones tranquilas para trabajar concentrad{o} sin que me distraigan.",
    # weather
    "Dicen que viene {weather} para el fin de semana; ¿qué plan bajo techo me propones?",
    "¿Cómo se forma el fenómeno de la {weather_noun}? Mi sobrino me lo preguntó y no supe explicárselo.",
    "Con este {weather_adj} no hay quien duerma; ¿algún truco para refrescar el dormitorio sin aire acondicionado?",
    # work
    "Tengo que preparar {work_doc} para el {weekday} y no sé por dónde empezar; ¿me ayudas con un esquema?",
    "¿Cómo le digo a un cliente, con educación, que el plazo que pide es imposible de cumplir?",
    "Redáctame un correo breve para aplazar la reunión del {weekday} a la semana siguiente.",
    "¿Qué técnica recomiendas para no perder tanto tiempo en reuniones que podrían ser un correo?",
    "Mi equipo no se pone de acuerdo con {work_topic}; ¿cómo moderarías una reunión así?",
    "Resúmeme en tres puntos cómo dar una mala noticia a un equipo sin que cunda el pánico.",
    "¿Cómo organizo la bandeja de entrada para no tener cuatrocientos correos sin leer?",
    # travel tips
    "¿Qué no debería faltar en la maleta de mano para un fin de semana en {world_city}?",
    "¿Cómo se combate el jet lag después de un vuelo largo? Siempre tardo días en recuperarme.",
    "¿Merece la pena un seguro de viaje para una escapada de tres días a {world_city}?",
    "¿Qué barrio de {world_city} es mejor para alojarse si quieres moverte andando?",
    "¿Cuál es la mejor época para visitar {world_city} sin encontrarte multitudes?",
    # tech
    "Mi {device} va lentísimo desde la última actualización; ¿qué puedo revisar antes de formatearlo?",
    "¿Cómo hago en una hoja de cálculo que una celda se ponga roja si el valor baja de {num}?",
    "¿Qué diferencia hay entre {tech}? Lo leo en todas partes y no me queda claro.",
    "¿Es seguro guardar las contraseñas en el navegador o es mejor un gestor de contraseñas?",
    "Explícame como si tuviera diez años qué es {tech_concept}.",
    "¿Cómo escribo en Python una función que cuente cuántas veces aparece cada palabra en un texto?",
    "¿Cómo hago una copia de seguridad de las fotos del {photo_device} sin pagar ninguna suscripción?",
    # money and home
    "¿Cómo organizo un presupuesto mensual si cobro a final de mes y los gastos fuertes llegan a principios?",
    "La factura de la luz ha subido muchísimo; ¿qué electrodomésticos consumen más en una casa normal?",
    "El grifo de la cocina gotea desde hace días; ¿lo puedo arreglar sin llamar a un fontanero?",
    "¿Cómo quito la humedad de una pared del baño? Cada invierno sale una mancha negra.",
    "Tengo una {plant} con las hojas amarillas; ¿será exceso de riego o le falta luz?",
    "{appliance_cap} hace un ruido raro desde ayer; ¿qué puede ser antes de llamar al técnico?",
    "¿Qué regalo original le puedo hacer a {gift_for}? Tengo unos treinta euros.",
    # curiosity and small talk
    "Dime una curiosidad sobre {animal} que no sepa casi nadie.",
    "Explícame {topic} en pocas frases, que esta noche sale el tema en la cena.",
    "¿Por qué bostezamos? Llevo toda la tarde bostezando en la oficina.",
    "Estoy pensando en apuntarme a un curso de cocina japonesa; ¿crees que merece la pena?",
    "¿Qué juegos de mesa recomiendas para seis personas que no sean demasiado complicados?",
    # more everyday requests
    "¿Cómo quito una mancha de {stain} de una camisa blanca? Ya la he lavado una vez y no sale.",
    "¿Cuándo se usa {spelling}? Siempre me lío cuando escribo correos formales.",
    "¿De dónde viene la palabra «{word}»? Me ha surgido la duda leyendo el periódico.",
    "Ayúdame a escribir un mensaje de felicitación para {gift_for} que no suene a tarjeta de supermercado.",
    "¿Cuántos gramos son {cups} tazas de harina? La receta es americana y no tengo báscula.",
    "¿Cómo se le explica {school_topic} a un niño de primaria? Estoy ayudando con los deberes.",
    "¿Qué hago si me quemo con aceite en la cocina? Me ha pasado esta mañana y aún escuece.",
    "¿Es mejor ir en tren o en avión de {world_city} a {world_city2}? Viajo con una maleta grande.",
    "Tengo una entrevista de trabajo el {weekday}; ¿qué preguntas suelen hacer y cómo preparo las respuestas?",
    "¿Qué técnicas de estudio funcionan de verdad para memorizar mucha información en poco tiempo?",
    "Quiero aprender a tocar {instrument} de adulto; ¿es realista o ya llego tarde?",
    "¿Qué ajustes de la cámara del móvil uso para hacer fotos de noche sin que salgan movidas?",
    "¿Cómo reclamo la devolución de una tienda online que no me contesta desde hace dos semanas?",
    "¿Qué tarifa de móvil me conviene si casi no llamo pero gasto muchos datos?",
    "¿Cómo configuro la privacidad de mis redes sociales para que solo me vean mis amigos?",
    "Cuéntame un chiste malo, de los que dan vergüenza ajena, que hoy lo necesito.",
    "Ponme un acertijo de lógica que se pueda resolver en cinco minutos.",
    "¿Cuánto se suele dejar de propina en {world_city}? No quiero quedar mal en los restaurantes.",
    "¿Qué me pongo para una boda de día en {season}? No quiero pasar calor ni ir demasiado formal.",
    "Los vecinos de arriba hacen obra todos los días a las ocho; ¿qué dice la normativa sobre el ruido?",
    "¿Cómo limpio el horno sin productos agresivos? Tiene grasa pegada de hace meses.",
    "¿Qué muebles son imprescindibles en un estudio pequeño? Quiero aprovechar cada metro.",
    "¿Cómo hago la declaración de la renta si este año he tenido dos pagadores?",
    "¿Qué pódcast me recomiendas sobre {podcast_topic}? Tengo una hora de trayecto cada día.",
    "Dame una rutina de diez minutos para despejarme a media tarde sin salir de la oficina.",
    "¿Cómo se hace un buen café en cafetera italiana? El mío siempre sabe a quemado.",
    "¿Cuánta levadura necesito para medio kilo de harina si quiero un pan que suba bien?",
    "¿Qué puedo plantar en un balcón en {season}? Le da el sol toda la tarde.",
    "¿Cuántas calorías se queman al {exercise} durante una hora, más o menos? Es por curiosidad.",
    "¿Cómo me concentro cuando trabajo desde casa y hay ruido en la calle?",
    "Escríbeme un poema corto sobre {poem_topic} para leerlo en una cena con amigos.",
    "¿Cuál es la capital de {country}? Lo estábamos discutiendo y nadie se ponía de acuerdo.",
    "¿Cómo convierto de cabeza {fahrenheit} grados Fahrenheit a Celsius?",
    "¿Cómo se hace un nudo de corbata sencillo? Tengo un evento mañana y nunca me acuerdo.",
    "¿Por qué el cielo es azul y los atardeceres naranjas? Explícamelo sin fórmulas.",
    "Para alguien que empieza a ahorrar, ¿qué es mejor, {saving}?",
    "Necesito ideas para la fiesta de jubilación de un compañero; seremos unas veinte personas.",
    "¿Pasa algo si dejo el portátil siempre enchufado? ¿Se estropea la batería?",
    "¿Cómo se cocina el arroz blanco para que quede suelto y no se pegue?",
    "¿Qué diferencia hay entre un virus y una bacteria? Mi sobrina me lo ha preguntado.",
    "¿Cómo organizo un armario pequeño para que quepa la ropa de invierno y la de verano?",
    "Hazme un plan para leer un libro al mes este año sin agobiarme.",
    "¿Qué le regalo a alguien a quien le encanta {gift_interest}? Busco algo que no tenga ya.",
    "¿Cómo le pido a mi jefe un aumento sin que suene a amenaza?",
    "¿Qué excursiones de un día me recomiendas desde {world_city}, sin coche?",
)
EN_FILLER = (
    # cooking
    "How can I make {dish} without an oven? I've got {ing} and {ing2} in the fridge and not much time.",
    "Give me a quick dinner idea with {ing}, {ing2} and a bit of {ing3}; I'm home very late tonight.",
    "How long does {dish} keep in the fridge? I made far too much on Sunday.",
    "Can you freeze {ing}, or does it go mushy when it thaws?",
    "I want to make {dish} the way my gran did; what's the trick to keep it moist?",
    "Which wine goes with {dish}? I've got guests on {weekday} and know nothing about wine.",
    "Why does my {dish} always come out so dry? I follow the recipe to the letter.",
    "What can I use instead of {ing} in a recipe for {dish}?",
    "Plan my meals for the week using {ing}, {ing2} and {ing3}, without repeating a dish.",
    # sport and health
    "What stretches do you recommend after {exercise}? I'm always stiff the next day.",
    "Watched the {ref_sport} last night and the refereeing was a disaster; what do you think of video replays?",
    "I want to start exercising: is morning or evening better for someone who has never trained?",
    "If I want to see a difference in two months, how many times a week should I fit in {exercise}?",
    "How many hours should an adult sleep? Lately I wake up at {hour} and can't get back to sleep.",
    "I spend hours sitting at the computer: what simple exercises can I do for my back?",
    "Is it true you need two litres of water a day, or is that a myth?",
    "What are the rules of {sport}? I'm watching a match tomorrow and don't want to look lost.",
    # films, books, music
    "Can you recommend {film_kind} for this weekend? Nothing longer than two hours.",
    "I watched {film_kind} yesterday and the ending wrecked me; know anything similar with a happy ending?",
    "Which {series_kind} series would you recommend for watching as a family on Sunday afternoons?",
    "I fancy something light to read; can you recommend a {book_kind} novel that hooks you from page one?",
    "Make me a list of calm songs to work to without getting distracted.",
    # weather
    "They say {weather} is coming this weekend; what indoor plan would you suggest?",
    "How does {weather_noun} form? My nephew asked me and I couldn't explain it.",
    "Nobody can sleep in this {weather_adj}; any trick to cool the bedroom without air conditioning?",
    # work
    "I have to prepare {work_doc} for {weekday} and don't know where to start; can you help with an outline?",
    "How do I tell a client, politely, that the deadline they want is impossible?",
    "Draft a short email to push {weekday}'s meeting back to the following week.",
    "Any technique for not wasting so much time in meetings that could have been an email?",
    "My team can't agree about {work_topic}; how would you chair a meeting like that?",
    "Sum up in three points how to give a team bad news without causing panic.",
    "How do I organise my inbox so I don't have four hundred unread emails?",
    # travel tips
    "What should never be missing from a carry-on for a weekend in {world_city}?",
    "How do you beat jet lag after a long flight? It always takes me days to recover.",
    "Is travel insurance worth it for a three-day break in {world_city}?",
    "Which area of {world_city} is best to stay in if you want to get around on foot?",
    "When's the best time to visit {world_city} without the crowds?",
    # tech
    "My {device} has been really slow since the last update; what can I check before resetting it?",
    "How do I make a spreadsheet cell turn red if the value drops below {num}?",
    "What's the difference between {tech}? I see it everywhere and it's still not clear to me.",
    "Is it safe to keep passwords in the browser, or is a password manager better?",
    "Explain {tech_concept} to me as if I were ten.",
    "How do I write a Python function that counts how often each word appears in a text?",
    "How can I back up the photos on my {photo_device} without paying for a subscription?",
    # money and home
    "How do I set a monthly budget if I'm paid at the end of the month and the big bills come at the start?",
    "The electricity bill has gone up a lot; which appliances use the most in a normal home?",
    "The kitchen tap has been dripping for days; can I fix it without calling a plumber?",
    "How do I get rid of damp on a bathroom wall? A black patch appears every winter.",
    "My {plant} has yellow leaves; is it overwatering or not enough light?",
    "{appliance_cap} has been making a strange noise since yesterday; what could it be before I call someone?",
    "What original present could I get for {gift_for}? I have about thirty pounds.",
    # curiosity and small talk
    "Tell me a fact about {animal} that hardly anyone knows.",
    "Explain {topic} in a few sentences; it's bound to come up at dinner tonight.",
    "Why do we yawn? I've been yawning all afternoon at the office.",
    "I'm thinking of signing up for a Japanese cooking course; do you think it's worth it?",
    "Which board games would you recommend for six people that aren't too complicated?",
    # more everyday requests
    "How do I get a {stain} stain out of a white shirt? I've washed it once and it's still there.",
    "When do you use {spelling}? I always get muddled writing formal emails.",
    "Where does the word '{word}' come from? I wondered while reading the paper.",
    "Help me write a congratulations message for {gift_for} that doesn't sound like a supermarket card.",
    "How many grams is {cups} cups of flour? The recipe is American and I don't have measuring cups.",
    "How do you explain {school_topic} to a primary school kid? I'm helping with homework.",
    "What should I do if I burn myself with hot oil? It happened this morning and it still stings.",
    "Is it better to take the train or fly from {world_city} to {world_city2}? I'm travelling with a big suitcase.",
    "I've got a job interview on {weekday}; what questions do they usually ask and how do I prepare answers?",
    "Which study techniques actually work for memorising a lot of information in a short time?",
    "I want to learn {instrument} as an adult; is that realistic or am I too late?",
    "Which phone camera settings should I use for night photos that don't come out blurry?",
    "How do I claim a refund from an online shop that hasn't replied for two weeks?",
    "Which phone plan suits me if I hardly make calls but use lots of data?",
    "How do I set my social media privacy so only my friends can see my posts?",
    "Tell me a terrible joke, the cringe-worthy kind; I need it today.",
    "Give me a logic puzzle that can be solved in five minutes.",
    "How much do people usually tip in {world_city}? I don't want to look rude in restaurants.",
    "What should I wear to a daytime wedding in {season}? I don't want to be too hot or too formal.",
    "The upstairs neighbours start building work at eight every day; what are the rules on noise?",
    "How do I clean the oven without harsh chemicals? It has months of baked-on grease.",
    "Which furniture is essential in a small studio flat? I want to make the most of every metre.",
    "How do I do my tax return if I had two employers this year?",
    "Which podcast would you recommend about {podcast_topic}? I commute an hour a day.",
    "Give me a ten-minute routine to clear my head mid-afternoon without leaving the office.",
    "How do you make good coffee in a stovetop moka pot? Mine always tastes burnt.",
    "How much yeast do I need for half a kilo of flour if I want bread that rises well?",
    "What can I grow on a balcony in {season}? It gets sun all afternoon.",
    "Roughly how many calories does {exercise} burn? Just curious.",
    "How do I concentrate when working from home with noise from the street?",
    "Write me a short poem about {poem_topic} to read at a dinner with friends.",
    "What's the capital of {country}? We were arguing about it and nobody agreed.",
    "How do I convert {fahrenheit} degrees Fahrenheit to Celsius in my head?",
    "How do you tie a simple tie knot? I have an event tomorrow and never remember.",
    "Why is the sky blue and sunsets orange? Explain it without formulas.",
    "For someone who's just started saving, which is better: {saving}?",
    "I need ideas for a colleague's retirement party; there'll be about twenty of us.",
    "Is it bad to leave a laptop plugged in all the time? Does it ruin the battery?",
    "How do you cook white rice so it's fluffy and doesn't stick?",
    "What's the difference between a virus and bacteria? My niece asked me.",
    "How do I organise a small wardrobe so winter and summer clothes both fit?",
    "Make me a plan to read one book a month this year without stressing.",
    "What can I give someone who loves {gift_interest}? I want something they don't already have.",
    "How do I ask my boss for a pay rise without it sounding like a threat?",
    "Which day trips would you recommend from {world_city} without a car?",
)

ES_CHAT = (
    "Hoy ha sido uno de esos días en los que todo sale al revés; al menos el café estaba bueno.",
    "Te cuento algo gracioso: en el {place} alguien me confundió con otra persona y me saludó con un abrazo.",
    "Qué rápido pasa la semana. Ya es {weekday} otra vez y siento que no he hecho nada de lo que tenía pensado.",
    "Por fin he terminado {work_doc}; ha costado, pero estoy bastante orgullos{o} del resultado.",
    "Acabo de volver de dar un paseo largo y me he despejado muchísimo; tendría que hacerlo más a menudo.",
    "Esta mañana he visto amanecer desde la ventana de la cocina y me ha cambiado el humor del día.",
    "Al final probé la receta de {dish} que me diste y salió bastante bien, aunque me pasé con la sal.",
    "Hoy he tenido una reunión de tres horas que podría haber sido un correo de dos líneas.",
    "He empezado a leer una novela {book_kind} y no puedo soltarla; anoche me acosté a las tantas.",
    "Hace un día precioso y yo aquí encerrad{o} con hojas de cálculo; la vida es injusta.",
)
EN_CHAT = (
    "Today was one of those days when everything goes wrong; at least the coffee was good.",
    "Something funny: at the {place} someone mistook me for someone else and gave me a hug.",
    "The week flies by. It's {weekday} again and I feel I've done none of what I planned.",
    "I finally finished {work_doc}; it was hard work, but I'm quite proud of the result.",
    "Just back from a long walk and my head feels so much clearer; I should do it more often.",
    "I watched the sunrise from the kitchen window this morning and it changed my whole mood.",
    "I tried the {dish} recipe you gave me and it came out pretty well, though I overdid the salt.",
    "I had a three-hour meeting today that could have been a two-line email.",
    "I've started a {book_kind} novel and can't put it down; I went to bed far too late last night.",
    "It's a gorgeous day and I'm stuck indoors with spreadsheets; life is unfair.",
)

ES_OPENERS = ("", "", "", "Oye, ", "Una duda: ", "Buenas. ", "Pregunta rápida: ", "Vale, ",
              "Hola de nuevo. ", "Cambiando de tema: ", "Otra cosa: ")  # fmt: skip
EN_OPENERS = ("", "", "", "Hey, ", "A question: ", "Hi again. ", "Quick one: ", "OK, ",
              "Hello. ", "Changing the subject: ", "Another thing: ")  # fmt: skip
ES_CONTEXTS = (
    "Estoy en el tren y tengo un rato.", "Hoy he tenido un día larguísimo.",
    "Te escribo desde el móvil, perdona las erratas.", "Llevo toda la mañana dándole vueltas.",
    "Es para una conversación que tuve ayer.", "Lo he buscado en internet y no me aclaro.",
    "Acabo de salir de una reunión eterna.", "Estoy con un café en la terraza.",
)  # fmt: skip
EN_CONTEXTS = (
    "I'm on the train and have a few minutes.", "It's been a very long day.",
    "Typing on my phone, so sorry for typos.", "I've been going round in circles all morning.",
    "It came up in a conversation yesterday.", "I searched online and I'm none the wiser.",
    "Just out of an endless meeting.", "Sitting outside with a coffee.",
)  # fmt: skip
ES_CLOSERS = ("", " Gracias de antemano.", " Te leo.", " Sin prisa.",
              " Si puedes, en pocas líneas.", " Te lo agradezco.", " Gracias.",
              " Cualquier pista me vale.", " Con algún ejemplo, si puede ser.")  # fmt: skip
EN_CLOSERS = ("", " Thanks in advance.", " No rush.", " Keep it short if you can.",
              " Much appreciated.", " Thanks.", " Cheers.",
              " Anything you can think of helps.", " An example or two would help.")  # fmt: skip
ES_ACKS = ("¡Gracias! Me ha servido mucho.", "Perfecto, lo pruebo esta noche.",
           "Vale, entendido.", "Genial, muchas gracias.", "Jaja, muy bueno.",
           "Buena idea, no se me había ocurrido.", "Hecho, ya te contaré qué tal.",
           "Uf, qué complicado. Lo pienso.", "Gracias, con eso me apaño.")  # fmt: skip
EN_ACKS = ("Thanks! That helped a lot.", "Perfect, I'll try it tonight.", "OK, got it.",
           "Great, thanks very much.", "Ha, nice one.", "Good idea, hadn't thought of that.",
           "Done, I'll let you know how it goes.", "Hmm, tricky. I'll think about it.",
           "Thanks, that'll do.")  # fmt: skip


@dataclass(frozen=True)
class LanguageText:
    """Every template and word bank of one language."""

    slots: dict[str, SlotText]
    updates: dict[str, UpdateText]
    multi: tuple[MultiText, ...]
    banks: dict[str, tuple[str, ...]]
    filler: tuple[str, ...]
    chat: tuple[str, ...]
    openers: tuple[str, ...]
    contexts: tuple[str, ...]
    closers: tuple[str, ...]
    acks: tuple[str, ...]


LANGUAGE_TEXT = {
    "es": LanguageText(
        ES_SLOTS, ES_UPDATES, ES_MULTI, ES_BANKS, ES_FILLER, ES_CHAT, ES_OPENERS, ES_CONTEXTS,
        ES_CLOSERS, ES_ACKS,
    ),
    "en": LanguageText(
        EN_SLOTS, EN_UPDATES, EN_MULTI, EN_BANKS, EN_FILLER, EN_CHAT, EN_OPENERS, EN_CONTEXTS,
        EN_CLOSERS, EN_ACKS,
    ),
}  # fmt: skip

_FORMATTER = string.Formatter()


def render(template: str, values: dict[str, str]) -> tuple[str, str]:
    """Fill a planted sentence; return the text and the fact it marks with [brackets]."""
    text = template.format(**values)
    start = text.find("[")
    if start < 0:
        raise ValueError(f"no [fact] marked in template {template!r}")
    end = text.index("]", start)
    fact = text[start + 1 : end]
    return text[:start] + fact + text[end + 1 :], fact


CHAT_SHARE = 0.08  # share of filler turns that are remarks rather than requests
ACK_SHARE = 0.02  # share that are one-line acknowledgements


def _fill(
    rng: random.Random, template: str, banks: dict[str, tuple[str, ...]], persona: dict[str, str]
) -> str:
    values: dict[str, str] = {}
    for _, name, _, _ in _FORMATTER.parse(template):
        if not name or name in persona or name in values:
            continue
        base = name.rstrip("0123456789")
        if base == "appliance_cap":
            value = rng.choice(banks["appliance"])
            values[name] = value[0].upper() + value[1:]
            continue
        taken = {v for k, v in values.items() if k.rstrip("0123456789") == base}
        values[name] = rng.choice([v for v in banks[base] if v not in taken])
    return template.format_map({**persona, **values})


def filler_message(
    rng: random.Random, language: str, persona: dict[str, str], used: Counter | None = None
) -> str:
    """One everyday message: a request (with an opener or a context sentence, and a closer), a
    remark, or a short acknowledgement. `used` counts templates already used in the conversation,
    so that none comes back before the others have had their turn."""
    text_of = LANGUAGE_TEXT[language]
    draw = rng.random()
    if draw < ACK_SHARE:
        return rng.choice(text_of.acks)
    is_chat = draw < ACK_SHARE + CHAT_SHARE
    templates = text_of.chat if is_chat else text_of.filler
    used = Counter() if used is None else used
    # Least used first, ties in random order; a template whose filled text misses the length
    # range is skipped for another one.
    order = sorted(templates, key=lambda t: (used[t], rng.random()))
    for attempt in range(200):
        template = order[attempt % len(order)]
        body = _fill(rng, template, text_of.banks, persona)
        if is_chat:
            message = body
        else:
            if rng.random() < 0.65:
                lead = rng.choice(text_of.contexts) + " "
            else:
                lead = rng.choice(text_of.openers)
                if lead.endswith((", ", ": ")):
                    body = lower_first(body)
            message = lead + body + rng.choice(text_of.closers)
        if SHORT <= len(message) <= LONG:
            used[template] += 1
            return message
    raise RuntimeError(f"no {language} filler template fits {SHORT}-{LONG} characters")


def lower_first(text: str) -> str:
    """The text as it reads after "Oye, " or "By the way, ": first letter lower case."""
    if text.startswith(("I ", "I'")):
        return text
    if text[0] in "¿¡":
        return text[0] + text[1].lower() + text[2:]
    return text[0].lower() + text[1:]


def ask(rng: random.Random, language: str, question: str) -> str:
    """A question as a user would type it: sometimes with an opener in front."""
    opener = rng.choice(QUESTION_OPENERS[language])
    return opener + lower_first(question) if opener else question


# --------------------------------------------------------------------------------------------------
# Assembly.

UPDATABLE = ("city", "job", "pet", "car")


@dataclass
class _Plan:
    kind: str
    slots: tuple[str, ...]
    multi: MultiText | None = None


def _plan_questions(
    rng: random.Random, language: str, pattern: tuple[int, ...]
) -> list[_Plan] | None:
    """Choose which facts each question asks about; None when this draw does not fit."""
    slots_text: dict[str, SlotText] = LANGUAGE_TEXT[language].slots
    n_inflected, n_paraphrase, n_synonym, n_multi, n_update = pattern
    plans: list[_Plan] = []
    updated = rng.sample(UPDATABLE, n_update)
    used = set(updated)
    plans += [_Plan("update", (slot,)) for slot in updated]
    multis = list(LANGUAGE_TEXT[language].multi)
    rng.shuffle(multis)
    for multi in multis:
        if sum(p.kind == "multi" for p in plans) == n_multi:
            break
        if used.isdisjoint(multi.slots):
            plans.append(_Plan("multi", multi.slots, multi))
            used.update(multi.slots)
    if sum(p.kind == "multi" for p in plans) < n_multi:
        return None
    for kind, count in (
        ("inflected", n_inflected),
        ("synonym", n_synonym),
        ("paraphrase", n_paraphrase),
    ):
        candidates = [s for s, t in slots_text.items() if s not in used and getattr(t, kind)]
        if len(candidates) < count:
            return None
        for slot in rng.sample(candidates, count):
            plans.append(_Plan(kind, (slot,)))
            used.add(slot)
    return plans


def make_conversation(index: int, turns: int = 320, seed: int = DEFAULT_SEED) -> Conversation:
    """Conversation number `index` of the set (even: Spanish, odd: English)."""
    if turns < MIN_TURNS:
        raise ValueError(f"a conversation needs at least {MIN_TURNS} turns, not {turns}")
    language = LANGUAGES[index % 2]
    rng = random.Random(f"{seed}:{index}")
    text_of = LANGUAGE_TEXT[language]
    slots_text: dict[str, SlotText] = text_of.slots
    persona = make_persona(rng, language)
    pattern = KIND_PATTERNS[(index // 2) % len(KIND_PATTERNS)]
    while (plans := _plan_questions(rng, language, pattern)) is None:
        pass

    messages: list[str | None] = [None] * turns
    fact_turn: dict[str, tuple[int, str]] = {}  # slot -> (turn, fact) of its newest statement

    plant_end = int(turns * PLANT_END)
    slot_names = list(slots_text)
    for slot, at in zip(slot_names, rng.sample(range(1, plant_end), len(slot_names)), strict=True):
        text, fact = render(rng.choice(slots_text[slot].plants), persona)
        messages[at] = text
        fact_turn[slot] = (at, fact)

    free = [i for i in range(int(turns * UPDATE_ZONE[0]), int(turns * UPDATE_ZONE[1]))]
    for plan in plans:
        if plan.kind == "update":
            slot = plan.slots[0]
            at = rng.choice([i for i in free if messages[i] is None])
            text, fact = render(rng.choice(text_of.updates[slot].statements), persona)
            messages[at] = text
            fact_turn[slot] = (at, fact)

    question_start = math.ceil(turns * QUESTION_START)
    question_turns = sorted(rng.sample(range(question_start, turns), len(plans)))
    rng.shuffle(plans)
    questions: list[Question] = []
    for at, plan in zip(question_turns, plans, strict=True):
        if plan.kind == "update":
            update = text_of.updates[plan.slots[0]]
            template, answer = rng.choice(update.questions), update.answer
        elif plan.kind == "multi":
            assert plan.multi is not None
            template, answer = rng.choice(plan.multi.questions), plan.multi.answer
        else:
            slot_text = slots_text[plan.slots[0]]
            template, answer = rng.choice(getattr(slot_text, plan.kind)), slot_text.answer
        text = ask(rng, language, template.format(**persona))
        evidence = sorted(fact_turn[slot] for slot in plan.slots)
        messages[at] = text
        questions.append(
            Question(
                at=at,
                text=text,
                evidence=[turn for turn, _ in evidence],
                facts=[fact for _, fact in evidence],
                answer=answer.format(**persona),
                kind=plan.kind,
            )
        )

    facts = [fact for _, fact in fact_turn.values()]
    open_turns = [i for i in range(plant_end, turns) if messages[i] is None]
    distractor_texts = []
    for slot_text in slots_text.values():
        count = min(len(slot_text.distractors), rng.choice((1, 2, 2)))
        for template in rng.sample(slot_text.distractors, count):
            distractor_texts.append(template.format(**persona))
    keep = min(len(distractor_texts), math.ceil(len(distractor_texts) * turns / 320))
    distractor_texts = (
        rng.sample(distractor_texts, keep) if keep < len(distractor_texts) else distractor_texts
    )
    for at, text in zip(
        rng.sample(open_turns, len(distractor_texts)), distractor_texts, strict=True
    ):
        messages[at] = text

    used: Counter = Counter()
    for i, message in enumerate(messages):
        if message is None:
            text = filler_message(rng, language, persona, used)
            while any(fact in text for fact in facts):
                text = filler_message(rng, language, persona, used)
            messages[i] = text

    conversation_id = f"{language}-{index // 2 + 1:02d}"
    return Conversation(
        conversation_id, language, [m for m in messages if m is not None], questions
    )


def make_conversations(
    count: int = 24, turns: int = 320, seed: int = DEFAULT_SEED
) -> list[Conversation]:
    """`count` conversations, alternately Spanish and English, each of `turns` user turns."""
    return [make_conversation(index, turns, seed) for index in range(count)]


# --------------------------------------------------------------------------------------------------
# Invariants.


def validate(conversations: Sequence[Conversation]) -> None:
    """Check the set's invariants; raise ValueError listing every violation."""
    problems: list[str] = []
    languages = {c.language for c in conversations}
    if len(conversations) >= 2 and languages != set(LANGUAGES):
        problems.append(f"languages {sorted(languages)}, expected both of {LANGUAGES}")
    for c in conversations:
        n = len(c.turns)
        where = c.id
        if n < MIN_TURNS:
            problems.append(f"{where}: {n} turns, fewer than {MIN_TURNS}")
        in_range = sum(SHORT <= len(t) <= LONG for t in c.turns)
        # Planted facts, distractors and questions are shorter and their number does not shrink
        # with the conversation, so reduced runs (fewer turns) are held to a lower share.
        if in_range < (0.8 if n >= FULL_TURNS else 0.5) * n:
            problems.append(f"{where}: only {in_range}/{n} messages are {SHORT}-{LONG} characters")
        if too_long := [i for i, t in enumerate(c.turns) if len(t) > 2 * LONG or not t.strip()]:
            problems.append(f"{where}: empty or overlong messages at {too_long[:5]}")
        if not c.questions:
            problems.append(f"{where}: no questions")
        problems += question_problems(c, KINDS, QUESTION_START)
    if problems:
        raise ValueError(
            f"{len(problems)} problems in the conversation set:\n" + "\n".join(problems[:50])
        )


def question_problems(c: Conversation, kinds: Sequence[str], start: float) -> list[str]:
    """What is wrong with a conversation's questions: each must be a turn of the last part, with
    facts that occur in its evidence turns, in no other earlier turn and not in the question."""
    problems: list[str] = []
    n = len(c.turns)
    if len({q.at for q in c.questions}) != len(c.questions):
        problems.append(f"{c.id}: two questions on one turn")
    for q in c.questions:
        tag = f"{c.id} turn {q.at}"
        if q.kind not in kinds:
            problems.append(f"{tag}: unknown kind {q.kind!r}")
        if not (start * n <= q.at < n):
            problems.append(f"{tag}: question outside the last {1 - start:.0%}")
            continue
        if c.turns[q.at] != q.text:
            problems.append(f"{tag}: text differs from the turn")
        if not q.evidence or len(q.evidence) != len(q.facts):
            problems.append(f"{tag}: evidence and facts do not pair up")
            continue
        if q.kind == "multi" and len(set(q.evidence)) < 2:
            problems.append(f"{tag}: a multi question needs two evidence turns")
        for turn, fact in zip(q.evidence, q.facts, strict=True):
            if not 0 <= turn < q.at:
                problems.append(f"{tag}: evidence turn {turn} does not precede the question")
                continue
            if not fact or fact not in c.exchange(turn):
                problems.append(f"{tag}: fact {fact!r} not in evidence turn {turn}")
            if fact in q.text or c.exchange(turn) in q.text:
                problems.append(f"{tag}: the question contains its planted sentence")
            elsewhere = [i for i in range(q.at) if i != turn and fact in c.exchange(i)]
            if elsewhere:
                problems.append(f"{tag}: fact {fact!r} also occurs in turns {elsewhere[:5]}")
    return problems


def describe(conversations: Sequence[Conversation]) -> dict:
    """Size and mix of the set, for reports."""
    questions = [q for c in conversations for q in c.questions]
    lengths = [len(t) for c in conversations for t in c.turns]
    echoed_tokens = [2 * sum(len(t) for t in c.turns) / 4 for c in conversations]
    return {
        "conversations": len(conversations),
        "languages": dict(Counter(c.language for c in conversations)),
        "turns": sorted({len(c.turns) for c in conversations}),
        "questions": len(questions),
        "kinds": {kind: sum(q.kind == kind for q in questions) for kind in KINDS},
        "message_chars": {
            "mean": round(sum(lengths) / len(lengths), 1),
            "share_80_220": round(sum(SHORT <= n <= LONG for n in lengths) / len(lengths), 3),
            "min": min(lengths),
            "max": max(lengths),
        },
        "echoed_tokens_per_conversation": {
            "min": round(min(echoed_tokens)),
            "mean": round(sum(echoed_tokens) / len(echoed_tokens)),
            "max": round(max(echoed_tokens)),
        },
        "distinct_words": len(
            {w.lower() for c in conversations for t in c.turns for w in t.split()}
        ),
    }


def main() -> None:
    import json

    conversations = make_conversations()
    validate(conversations)
    print(json.dumps(describe(conversations), indent=2, ensure_ascii=False))
    for language in LANGUAGES:
        conversation = next(c for c in conversations if c.language == language)
        print(f"\n## {conversation.id}")
        for q in conversation.questions:
            print(f"\n[{q.kind}] turn {q.at}: {q.text}\n  answer: {q.answer}")
            for turn, fact in zip(q.evidence, q.facts, strict=True):
                print(f"  turn {turn}: {conversation.turns[turn]}\n    fact: {fact!r}")


if __name__ == "__main__":
    main()
