"""A small multilingual gazetteer of first names and surnames (en, de, fr, es, nl, pl, it).

Names are the one PII type without a checksum: a capitalised two-word value may be a person or a
product. A share of tokens found in this list is what tells them apart. The list is deliberately
modest (common names per locale); the classifier needs only a share of hits, not full coverage.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = ["NAMES"]

_FIRST: Final = """
james john robert michael william david richard joseph thomas charles christopher daniel matthew
anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald jason
edward jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin
samuel gregory alexander patrick frank raymond jack dennis jerry tyler aaron henry adam peter
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret
sandra ashley kimberly emily donna michelle carol amanda melissa deborah stephanie rebecca sharon
laura cynthia kathleen amy angela shirley anna brenda pamela emma nicole helen samantha katherine
christine debra rachel carolyn janet catherine maria heather diane ruth julie olivia joyce
virginia victoria kelly lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline
martha gloria teresa ann sara madison frances kathryn janice jean abigail alice judy sophia grace
denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany charlotte
oliver harry noah leo oscar archie freddie arthur alfie isla ava mia amelia lily poppy ella
lukas leon finn jonas elias luis felix maximilian paul ben noah luca julian moritz tim niklas
jan tobias philipp florian stefan andreas markus thomas wolfgang klaus jurgen jürgen dieter
uwe horst hans sabine petra monika ursula renate karin birgit claudia susanne andrea heike
katharina lena lea leonie hannah sophie marie johanna laura julia lisa sarah anja kerstin
jean pierre michel philippe alain nicolas christophe patrick francois françois laurent
frederic frédéric sebastien sébastien julien olivier guillaume antoine maxime hugo louis gabriel
raphael raphaël arthur lucas theo théo mathieu thierry eric éric bernard marie nathalie isabelle
sylvie catherine francoise françoise martine christine sophie valerie valérie sandrine celine
céline camille chloe chloé manon ines inès lea léa louise jade emma juliette amelie amélie
jose josé antonio manuel francisco juan david javier daniel carlos jesus jesús alejandro miguel
rafael pedro pablo angel ángel sergio fernando jorge luis alberto alvaro álvaro diego adrian
adrián raul raúl enrique ramon ramón vicente carmen maria maría josefa isabel dolores pilar
teresa ana francisca laura cristina marta lucia lucía elena mercedes rosa paula raquel sofia
sofía irene alba nuria silvia beatriz montserrat rocio rocío
jan pieter kees henk johannes cornelis willem gerrit hendrik jeroen bas sander joost ruud bram
daan sem lars thijs ruben stijn niels wouter maarten anne annemarie ingrid marieke femke sanne
lotte fleur anouk iris eva esther ilse willemijn floor tessa noor saskia
piotr krzysztof andrzej tomasz pawel paweł michal michał marcin jakub adam lukasz łukasz mateusz
grzegorz marek kamil wojciech maciej rafal rafał dariusz robert zbigniew jerzy tadeusz stanislaw
stanisław anna maria katarzyna malgorzata małgorzata agnieszka barbara ewa krystyna elzbieta
elżbieta zofia joanna magdalena monika teresa danuta natalia aleksandra karolina marta dorota
giuseppe giovanni antonio mario luigi francesco angelo vincenzo pietro salvatore carlo franco
domenico bruno paolo michele giorgio aldo sergio luciano alessandro andrea marco matteo lorenzo
leonardo riccardo davide federico simone stefano roberto massimo fabio maria anna giuseppina
rosa angela giovanna teresa lucia carmela caterina francesca chiara giulia sara martina
alessandra valentina elena silvia paola federica roberta laura ginevra aurora beatrice
"""

_LAST: Final = """
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris
sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
flores green adams nelson baker hall rivera campbell mitchell carter roberts evans turner
phillips parker collins edwards stewart morris murphy cook rogers morgan cooper peterson reed
bailey bell kelly howard ward cox richardson wood watson brooks bennett gray james hughes price
sanders myers long ross foster patel jones davies wilson evans thomas roberts walker wright
robinson thompson white hughes edwards green hall wood harris lewis martin jackson clarke
muller müller mueller schmidt schneider fischer weber meyer wagner becker schulz hoffmann
schafer schäfer koch bauer richter klein wolf schroder schröder neumann schwarz zimmermann
braun kruger krüger hofmann hartmann lange schmitt werner schmitz krause meier lehmann
schmid schulze maier kohler köhler herrmann konig könig walter mayer huber kaiser fuchs peters
lang scholz moller möller weiss weiß jung hahn vogel friedrich keller gunther günther frank
bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel
garcia david bertrand roux vincent fournier morel girard andre andré lefevre lefèvre mercier
dupont lambert bonnet francois françois martinez legrand garnier faure rousseau blanc guerin
guérin muller henry roussel nicolas perrin morin mathieu clement clément gauthier dumont
lopez fontaine chevalier robin masson sanchez gerard gérard nguyen boyer denis lemaire duval
garcia gonzalez rodriguez fernandez fernández lopez lópez martinez martínez sanchez sánchez
perez pérez gomez gómez martin martín jimenez jiménez ruiz hernandez hernández diaz díaz moreno
munoz muñoz alvarez álvarez romero alonso gutierrez gutiérrez navarro torres dominguez
domínguez vazquez vázquez ramos gil ramirez ramírez serrano blanco molina morales suarez suárez
ortega delgado castro ortiz rubio marin marín sanz nunez núñez iglesias medina garrido cortes
cortés castillo santos lozano guerrero cano prieto mendez méndez cruz calvo gallego vidal leon
león marquez márquez herrera pena peña flores cabrera campos vega fuentes carrasco diez díez
jong jansen bakker visser smit meijer mulder bos vos peters hendriks dekker brouwer dijkstra
dijk berg jacobs vries bosch wal koster prins huisman kok boer janssen smits veenstra
nowak kowalski kowalska wisniewski wiśniewski wisniewska wojcik wójcik kowalczyk kaminski
kamiński kaminska lewandowski lewandowska zielinski zieliński zielinska szymanski szymański
wozniak woźniak dabrowski dąbrowski kozlowski kozłowski jankowski mazur wojciechowski
kwiatkowski krawczyk kaczmarek piotrowski grabowski zajac zając pawlowski pawłowski michalski
krol król wieczorek jablonski jabłoński wrobel wróbel nowakowski majewski olszewski stepien
rossi russo ferrari esposito bianchi romano colombo ricci marino greco bruno gallo conti
deluca costa giordano mancini rizzo lombardi moretti barbieri fontana santoro mariani rinaldi
caruso ferrara galli martini leone longo gentile martinelli vitale lombardo serra coppola
desantis marchetti parisi villa conte ferraro ferri fabbri bianco marini grasso valentini
messina sala gatti pellegrini palumbo sanna farina rizzi monti cattaneo morelli amato silvestri
"""

# Names that are also everyday words (colours, trades, places) would turn product and place
# names into "people"; they are left out on purpose.
_COMMON_WORDS: Final = frozenset(
    [
        "green",
        "white",
        "brown",
        "gray",
        "black",
        "long",
        "young",
        "king",
        "wood",
        "hill",
        "price",
        "bell",
        "cook",
        "ward",
        "reed",
        "rose",
        "grace",
        "frank",
        "amber",
        "jade",
        "iris",
        "lang",
        "wolf",
        "vogel",
        "klein",
        "lange",
        "blanc",
        "blanco",
        "leon",
        "león",
        "vega",
        "cruz",
        "santos",
        "campos",
        "villa",
        "sala",
        "costa",
        "serra",
        "gallo",
        "leone",
        "bianco",
        "marin",
        "marín",
        "fontana",
        "mark",
        "bos",
        "kok",
        "berg",
        "prins",
        "olivia",
        "will",
        "bauer",
        "parker",
        "carter",
        "hall",
        "foster",
        "ross",
        "lee",
        "long",
        "angel",
        "ángel",
        "pena",
        "peña",
        "gil",
        "moore",
        "street",
        "paris",
        "london",
        "mayer",
    ]
)

NAMES: Final[pa.Array] = pa.array(
    sorted((set(_FIRST.split()) | set(_LAST.split())) - _COMMON_WORDS)
)
