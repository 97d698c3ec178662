Dva mladí bílí muži jsou venku poblíž mnoha keřů.
Několik mužů v ochranných přilbách obsluhují velký kladkový systém.
Malá dívka leze do dřevěného hračkového domu.
Muž v modrém tričku stojí na žebříku a myje okno.
Dva muži připravují u sporáku jídlo.
Muž v zeleném drží kytaru zatímco další muž pozoruje jeho košili.
Muž se směje na vycpaného lva.
Modní dívka mluví do svého mobilního telefonu zatímco klouzá pomalu po ulici.
Žena s velkou kabelkou jde u brány.
Chlapci tančící na tyčích uprostřed noci.
Baletní třída pěti dívek skákající v řadě.
Čtyři kluci, tři nosící čepice, jeden ne, skáčou z vrcholu schodiště.
Černý a flekatý pes bojují
Muž v neonově zelené a oranžové uniformě řídí zelený traktor.
Několik žen čeká venku ve městě.
Dáma v černém vršku s brýlemi cukruje bábovku.
Malá holčička sedí před velkou namalovanou duhou.
Muž leží na lavičce, ke které je také přivázán bílý pes.
Pět lidí s nástroji sedí v kruhu.
Parta starších lidí hraje společně na klarinety, zatímco čtou noty.
Velká stavba se rozbila a leží na vozovce.
Velký dav lidí stojí venku před vchodem do stanice metra.
Muž si nechává dělat tetování na svá záda.
Dvě děti sedí na malé houpačce v písku.
Muž, který je oblečený do reflexní vesty a ochranné přilby, drží vlajku na silnici.
Osoba oblečená v modrém plášti stojí na rušném chodníku a studuje obraz ulice.
Muž v zelených kalhotách, který jde po ulici.
Malé dítě leze na červená lana na dětském hřišti.
Ty víš, že vypadám jako Justin Bieber.
Mladý muž v černo-žluté bundě na něco zírá a směje se.
Muž, který stojí u pisoáru s hrnkem kávy.
Pět lidí, kteří jdou s barevnou oblohou v pozadí.
Starý muž, který pije sám pivo.
Vycvičený policejní pes sedí vedle svého trenéra před policejní dodávkou.
Osoba, která jede na kole po zasněžené cestě.
Pět mužů, jednotně oblečených v bílé košili, kravatě a černých volných kalhotách hovoří u zadní části otevřené dodávky.
Muž s čepicí kšiltem dozadu pracuje se stroji.
Černá žena a bílý muž pracují v továrně a balí sklenice se svíčkami do krabic.
Asiský muž, který zametá cestu pro pěší.
Muž se naklání do auta a mluví k řidiči a muž na kole se na to dívá.
Dvě mladá batolata, která jsou venku na trávě.
Lidé sledují osobu v divném vozítku na náměstí.
Muž kráčí kolem stříbrného vozidla.
Krásná nevěsta, která jde na chodníku s svým novým manželem.
Malý chlapec hrající kostičky v McDonaldu.
Bílý pes se třese na břehu pláže s oranžovým míčem.
Skupina lidí griluje v parku.
Muž ve slunečních brýlích dává svou paži okolo ženy v černo-bílé halence.
Muž s kloboukem z balónků a lidé, kteří jedí venku u piknikových stolů.
Chlapec překopává dřevo nad třemi dětmi při soutěži v Taekwondu.
Chlapec v červené bundě, který lije vodu na muže v bílém triku.
Muž v červené bundě si stíní před sluníčkem a zkouší číst kus papíru.
Muži, kteří se procházejí ulicí s dětmi.
Malý chlapec stojí na ulici, zatímco muž v montérkách pracuje na kamenné zdi.
Černý pes přeskakuje přes kládu.
Muž v obleku běží okolo dalšího pána, také oblečeného v obleku.
Muž v červeném triku, který jede na svém kole okolo vody.
Bosonohý muž, který má olivově zelené šortky, griluje párky na malém propanovém grilu, zatímco drží modrý plastový hrnek.
Pes běží ve sněhu.
Dav stojí a čeká na zelenou.
Muž na lyžích, který se dívá na umělecká díla k prodeji ve sněhu.
Sedm horolezců stoupá na stěnu, zatímco další muž stojí a drží provaz.
Mladé ohebné tělo gymnastky se vznáší nad kladinou.
Mladý chlapec tlačí hračkovou čtyřkolku okolo gumového bazénu.
Žena v červené větrovce, která se dívá střešním dalekohledem na město dole.
Muž stojí před malým červeným předmětem, který vypadá jako letadlo.
Pes si hraje s hadicí.
Muž a malá dívka šťastně pózující před svým košíkem v supermarketu.
Bílý pes se chystá chytnout žlutou psí hračku.
Muž v zelené mikině s rukou zakrývající část obličeje v restauračním boxu.
Černo-bílý pes skáče směrem ke žluté hračce.
Dva turisté odpočívající u plochy sněhu.
Muž, který ukazuje svůj nový dřevěný výtvor.
Starší otec a jeho dospělý syn připravují na kempování v přírodě.
Vousatý cestovatel v červeném triku, který sedí v autě a čte mapu.
Mladý chlapec mává rukou na kachnu ve vodě obklopené zeleným parkem.
Pár sedí na trávě s miminkem a kočárkem.
Nějací muži stojí před budovou vedle zaparkovaného auta.
Černý pes běží vodou.
Muž vrtá skrz zamrzlý led rybníka.
Dva velcí světlehnědí psi si hrají podél písečné pláže.
Osoba v modrém a červeném šplhá s dvěma cepíny.
Tři lidé, kteří jdou po pěšině na louce.
Muž v černém oděvu odhazuje sníh na ulici, bez ohledu na veřejnou bezpečnost.
Pár stojí za svým svatebním dortem.
Mokrý černý pes nese zelenou hračku trávou.
Vesničané prodávají svou úrodu na trhu.
Na přelidněném koncertě, muž v bílém se přibližuje k hlavnímu zpěvákovi, který nosí žluté triko.
Chlapec skáče na svém skateboardu, zatímco dav se dívá.
Muž a malé dítě jsou ve žlutém kajaku na vodě.
Dva lidé sedí na lavičce a jedna žena stojí u nich.
Staveniště na ulici, kde pracují tři muži.
Dva muži, kteří sedí a hovoří na lavičce s billboardem s reklamou na brýle v pozadí.
Skupina mladých pochoduje po ulici mávajíce vlajkami, které ukazují barevné spektrum.
Tři staří muži sledují dalšího muže jak připravuje rybu.
Žena v bílém tílku se zelenou kolovou sukní, která zpívá píseň na jevišti.
Dva muži a dvě ženy sedící venku na schodech.
Hnědý a černý labrador jsou venku a černý labrador chytá hračku do své huby.
Chlapec v červené bundě, který je hokejový brankář, dřepí u brány s hokejkou.
Muž s batohem sedí na dvorku budovy před uměleckou sochou a čte.
Chlapec v batolecím věku v červeném klobouku držící se nějakých tyčí.
Tři psi stojí v travnatém poli, zatímco osoba klečí nedaleko.
Muž stojí před mrakodrapem.
Žena se prochází se svým dítětem v kočárku v místním parku.
Muž v červeném tričku sedí vedle ovoce na prodej.
Mladý blonďatý chlapec a tmavovlasá dívka jí u dětského stolu.
Chlapec jí své jídlo venku u stolu.
Muž, který nosí černou hraje na koncertě na elektrickou kytaru.
Dívka hrající softball zasáhne míč téměř přímo dolů.
Muž černé košili hraje na černě zbarvenou kytaru.
Muž, který nosí černé triko, uhlazuje beton v městské oblasti.
Žena v bílé košili sedí u stolu v pěkné restauraci.
Žena leží na červené dece v parku.
Osamělý muž stojí večer na mostě.
Dítě jde na travnatém poli.
Muž se psem griluje zelené fazolky.
Tři lidé odpočívají na skalní římse nad horami.
Mnoho lidí přechází velmi vysokou lávku se stromy pokrytým kopcem v pozadí.
Mladý chlapec vyhlížející dav v nafukovacích člunech.
Dvě malé dívky a starý muž diskutují.
Asijský muž a blonďatá žena, kteří se drží venku za ruce, muž v pozadí se dívá.
Starší muž s šedými vlasy sedí na židli a hraje na velký nástroj vyrobený z bambusu.
Muž v bílé košili jede na kole na rušné ulici.
Muž stojí na žebříku a maluje cihly.
Třicátník s telefonem v metru.
Dvě ženy jdou po přechodu a v pozadí je autobus.
Skupina lidí jí nudle.
Žena nese mísu plnou ovoce na své hlavě blízko oceánu.
Chlapík v díře, který je oblečen v modré.
Čtyři děti se smějí, zatímco společně pózují s kolem, které je pro ně moc velké.
Dva jednotlivci, muž a žena, stojící v lesnaté oblasti okolo vany.
Spící miminko je v něčích rukou a má oblečen růžový pruhovaný oděv
Člen afrického kmene pozorně sleduje fotoaparát v kmenových šatech.
Samurajský bojovník v úplně černých šatech vyndavá svůj meč z pochvy na venkovní tréninkové podložce.
Několik mladých lidí, kteří sedí na zábradlí nad přeplněnou pláží.
Pět turistů, jeden je otočený k fotoaparátu a jiní odvráceni od něj, procházejí skalnatým korytem řeky.
Ochranka stojí u kovové osvětlené sochy.
Dvě ženy, jedna v zelené a druhá ve fialové, které umývají chodník.
Dvě dívky dřepí před nějakými keři a mluví do svých mobilních telefonů.
Mladá dívka pestrobarevně oblečená držící oranžový míč ve své pravé ruce a chodící zelenou trávou za domem.
Mladé dítě si hraje s hračkou, zatímco leží na podlaze.
Malý chlapec, který je skateboardista, provádí kousky se svým prknem, zatímco další mladý skateboardista se dívá.
Dvě děti se smějí v trávě.
Mladá žena, která drží lahev, se natahuje z lavičky aby si potřásla mužovou rukou.
Řidič, který komunikuje svou vysílačkou.
Dívka pádlující po velké řece, jak je vidět zezadu.
Dívka s copánky si hraje ve vodě.
Pár ve svetrech sedí u stolu v restauraci.
Pokrm je na stole v restauraci.
Dva stavební dělníci sedí na ocelovém nosníku.
Dítě radostně míchá těsto v misce.
Dvě děti si za slunečného dne hrají s míčem v blátě.
Malá dívka, který se dívá do brožurky o jízdě vlakem.
Dvě ženy sedí a mluví a smějí se společně.
Lidé, kteří společně běží po chodníku v parku.
Malé dítě skáče šipku do bazénu.
Světle zbarvený pes běží po pláži.
Muž si hoví v dřevěném lavóru s vodou, zatímco jí ovoce.
Muž spí na lavičce nedaleko autobusové zastávky.
Malá dívka v červeném triku a džínách šplhá po malém stromě, zatímco další malá dívka se dívá.
Muž spící v autě, které řídí.
Žena v červeném triku je pod dekou a spí ve voze.
Muž v domácí kuchyni obrací palačinku neobyčejně vysoko.
Několik hasičů zareagovalo na poplach.
Několik hasičů stojí venku z budovy blízko hasičského auta.
Pláž s modrými a červenými čluny, s lidmi na břehu.
Muži, kteří mají helmy a bezpečnostní vesty, pracují.
Prodavačka časopisů sedí za velmi barevnou koláží časopisů.
Muž v ochranné přilbě má modré triko a modré džínové lacláče.
V pekárně, tlustý starší pekař spí, zatímco jeho učeň si vytírá mouku z očí a sedí vedle něj.
Skupina mužů bez košile sedí ve stínu na tropické pláži.
Chlapec v modrých plavkách na pláži.
Lyžař má výhled na zasněženou horu.
Chlapec, který má červená triko jede na svém kole vpravo vedle kupy hlíny.
Cyklisté v cyklistickém závodě projíždějí ostrou levou zatáčkou.
Tři chlapci, kteří si hrají a jezdí na hromadě písku uprostřed.
Starší muž s vycházkovou holí se ohýbá blízko muže a ženy.
Doktor a sestra v modrém operačním oblečení operují.
Černo-bílý pes skáče po žluté hračce.
Huňatý pes pronásleduje dobrmana na pláži.
Muž stojí po odvalení bowlingové koule po dráze.
Starý, větrem ošlehaný, vousatý muž, který je oblečený v černém, jede na krásném bílém oslu na bílých kamenech.
Muž a žena dřímající na modré pohovce.
Muž, který nosí žluté triko hází oštěp na dráhu.
Dav sledující horkovzdušné balóny v noci.
Žena si čte časopis přes rameno jiné ženy.
Dva muži dřepí v noci u rozsvícených svíček.
Mladý muž jde rušnou ulicí vedle nákupního střediska.
Malý chlapec jede při závodě na svém kole.
Skupina lidí, která sedí u stolu v potemnělé místnosti.
Muž se dvěma psy na pláži.
Chlapec je pokrytý mýdlovou pěnou a obličej má očištěný.
Tucty lidí se baví na lodi.
Mladá žena na člunu ve světle barevnách bikinách kopá muže nosícího slaměný kovbojský klobouk.
Chlapec, který se klouže po klouzačce do bazénu s barevnými nafukovacími kruhy.
Muž v neoprenu vyhazuje batole do vzduchu a je připraven ho chytit.
Skupina lidí jede vzadu na terénním autě ve vesnické oblasti dolů ulicí.
Dva kuchaři připravují hamburgery v restaurační kuchyni.
Dva malí chlapci se ksichtí.
Osoba s hnědými kalhotami sedí u oplocené oblasti, ve které létají jiskry.
Žena na kopci u bílého kříže, která má vyhlídku na pláž.
Čtyři dívky sedí v trávě, zatímco několik mužů stojí blízko nich.
Muži odhazují sníh ze železnice.
Muž, dívka a dva koně jsou blízko ohně.
Dělníci, kteří nosí reflexní vesty pracují u vlaku.
Starší muž, který se dívá na klasický, venkovský Volkswagen Brouk.
Žena sestavuje bílý kovový rám na chodníku.
Jsou tam tři psi, kteří zírají na míč uprostřed nich.
Muž bez košile a žena sedící na molu.
Muži v bezpečnostních vestách pracují na trati.
Muž spravuje ulici se svým nářadím.
Žena s nazrzlými vlasy, která si nanáší řasenku na své řasy.
Bílý pes má hlavu na zemi.
Žena v modrých šortkách a bílém triku leze na lezecké stěně.
Mnoho skútrů je zaparkováno na chodníku.
Helikoptéra oblastní parkové policie je připravená k přistání.
Muž v reflexní bundě se staví na lešení.
Skupina čtrnácti je shromážděna v hale s jídelním stolem a pódiem.
Dospívající chlapec skáče na nafukovací klouzačce.
Rodina, která si za krásného dne hraje na traktoru.
Starší žena, která smaží jídlo na pánvičce v kuchyni.
Dva lidé se přiblížili k nápadné mladé ženě oblečené v červených bikinách a červené pernaté čelence.
Dva lyžaři projíždí lesem.
Lyžaři na vrcholu zasněženého kopce.
Hnědý pes, který běží vedle trávy.
Žena v zeleném triku a džínách klečí na vstupním schodišti s kávou v ruce, její kabelka je vedle ní a velké dveře za ní, zatímco vyplňuje papíry.
Lidé přechází ulici na městské křižovatce.
Žena, která je oblečená ve světle fialové a má na sobě s korsáž, spíná ruce do klína.
Matka a děti rybaří v noci na promenádě.
Šest mužů, kteří hrají hru v písku s dřevěnými pádly.
Žena v tílku, která je obklopena třemi dětmi, se směje.
Muž v černém triku a černých kalhotách pracuje na motoru ve starém zeleném automobilu s žlutým kanystrem benzínu stojícím na trávě.
Žena v modré bundě jede blízko vody na hnědém poníkovi.
Dva koně táhnou kočár, který je řízený ženou, přes sněhem pokrytou zem.
Osoba, který šplhá dolů po strmém skalním útesu pomocí lana.
Skupina turistů odpočívá před horou.
Žena, která stojí před křídovou kresbou.
Tři mladí dospělí sedí okolo, s dívkou předstírající kopnutí do obličeje jednoho z chlapců, zatímco se smějí, a chlapec za ním vypadá že je uprostřed věty.
Skupina dětí ve třídě s rukama ve vzduchu.
Muž, který je oblečen v plavkách, skáče z betonové plošiny do velkého množství vody.
Žena úzkostlivě pracující s šicím strojem.
Dáma v bílém triku se dívá na osobu s paží zvednutou ve vzduchu.
Dívka, která pracuje na farmářském trhu a prodává papriky.
Starší žena sedí na židli s vycházkovou holí v ruce.
Chlapec vyfoukl čtyři bubliny na trávník.
Malý chlapec si hraje ve vodě.
Pes běžící z tunelu na překážkové dráze.
Žlutý a černo-bílý pes běží v prachu.
Dva muži, kteří grilují na pláži.
Malá dívka v plavkách s květinovým potiskem skáče do oceánu.
Malá dívka v modrých plavkách, která stojí na zábradlí blízko pláže.
Mladý asijský chlapec sedí na ohradě za řadou barevných čepic.
Bílo-černý pes skáče do bazénu.
Chlapec se směje pod vodou v bazénu.
Dva lidé, kteří sedí v restauraci, diskutují.
Několik lidí si dává přestávku při jízdě na sněžném skútru.
Dva lidé, kteří pracují na odklízení sněhu ze střechy.
Mladý muž nosící černé triko bere skládací židle z velkého stohu.
Žena se prochází za soumraku na městské ulici.
Malá dívka s hnědými vlasy fouká do lístků květiny.
Tři lidé venku na čtyřkolce.
Muž na čtyřkolce letí vzduchem.
Muž na čtyřkolce skáče blízko malé budovy.
Žena s tmavými vlasy, která nosí bikiny, sedí na pláži.
Dvě ruce obrací obracečkou nějaké jídlo v lité železné pánvi
Dvě ženy objímající se na travnatém oploceném poli s krávou v pozadí.
Velká loď se přibližuje k doku s dvěma muži, kteří očekávají její příjezd.
Muž v sandálech a bílém svetru sedí na zelené lavičce, zatímco mluví do svého mobilního telefonu.
Muž na pódiu, který zpívá do mikrofónu.
Tři chlapci jedou na slonovi a v pozadí je budova a stromy.
Mexičan sedí pod kapotou svého terénního auta.
Chlapec ve žlutých brýlích a zrzavá dívka pózují před fotoaparátem.
Skupina lidí se shromažďuje a drží různé typy vlajek.
Bílý malý chlapec, který brečí nad hračkou.
Malý chlapec nese na hřišti fotbalový míč.
Žena sledující jak muž vyškrabává zmrzlinu z mrazáku.
Skupina lidí sedí na stoličkách a jedí nějaké jídlo.
Lidé stojí okolo americké vlajky, která je rozvinutá ve špatném směru.
Mladá dívka malující obraz.
Cyklista jede na kole na zatočené silnici na kopec.
Malá dívka v džínové bundě, která běží polem.
Muž v modré košili a černých kalhotách se dívá na svůj palec na jedné ruce, zatímco drží brýle v druhé ruce.
Pár, který se líbá, zatímco jde nahoru po jezdících schodech
Fotbalista v zeleném dresu s míčem v rukou je držen několika svými spoluhráči, zatímco protihráč v červeném sahá po míči.
Muži staví zeď v poušti.
Skupina mladých přátel, kteří jsou nazdobeni barvou na obličej a pernatými čelenkami, sedí na lavičce.
Dáma má černou tašku přes rameno.
Muž v černé bundě stojí se skupinou lidí za sebou.
Černý pes, který skáče, aby chytil provazovou hračku
Mladá dívka se dívá přes starožitnou videokameru.
Dívka ve zvláštních šatech, která si čte brožurku, zatímco sedí na dřevěné verandě.
Muž oblečený v osobitém oděvu hraje na kytaru.
Hokejový brankář se snaží zabránit gólu od protihráčů.
Dospělý a dítě jdou přes den podél pláže.
Muž v zástěře sedí na obrubníku.
Hnědo-bílý pes, který skáče, aby chytil létající talíř, zatímco publikum se dívá.
Dva tenisoví hráči mluví na tenisovém hřišti.
Dva žongléři používající planoucí pochodně vystupují pro dav lidí, který sedí na schodech.
Dvě děti, které běží bez bot.
Nemluvně sedí na hladkých kamenech a hraje si s nimi.
Chlapec v kšiltovce Gap dělá hloupý obličej.
Pět mužů, jeden nosící bílou košili, který stojí na něčem, věší obrázek dítěte.
Osoba v klobouku si hraje s chlapcem na pláži.
Dívka v zeleném tílku a modrých potápěčských brýlích zadržuje dech pod vodou.
Chlapci na skútru jedoucí po rušné městské ulici.
Dvě dámy a muž, kteří hrají karetní hru a pijí pivo.
Lidé se baví na setkání, kde mají Pabst Blue Ribbon a Coca Colu bez cukru.
Muž v červených botách, bílém tričku a šedých kalhotách leze po skále.
Horolezec leze na velkou skálu.
Malá dívka, která si hraje ve vodě s žabí sochou.
Pes běží po pláži.
Lidé kteří sedí v restauraci a jedí a jeden si čte noviny.
Dívka, která má červené šortky a bílé triko se dívá skrz otvor.
Černo-bílý pták sedící na něčí ruce, která drží slunečnicová semínka.
Žena v bílém triku a růžové sukni se chystá odpálit tenisový míč.
Pes stojí na písku.
Toto je muž, který stojí na střeše se stavbou v pozadí.
Muž se dívá do velkého zařízení, které vypadá jako kamera, na poli poblíž karavanu a nějakých zaparkovaných vozidel.
Malý chlapec stojí v příboji.
Žena v muslimském oděvu jde s mladým chlapcem ulicí.
Malý pes běží po trávníku.
Žena běžící na chodníku vedle vyvýšené travnaté plošiny.
Muž v červených kalhotách, který skáče na stole v parku.
Pes s otevřenou hubou, který běží přes pole směrem k foťáku.
Smějící se dívka, která plave ve venkovním bazénu.
Kolo sedící na ulici s uvázaným lanem a chlapík jdoucí na laně.
Muž a dítě na lodi provádějící údržbu.
Malé dítě, které dělá stojku na posteli.
Muž, který je oblečen do oranžové bezpečnostní vesty, pracuje na opravách ulice.
Muž s bezpečnostní vestou klečí a čistí cihly.
Pracovník dodělává opravy na městské ulici.
Muž stojí na bílém písku a drží snowboard.
Muž v oranžové vestě, který stojí na vrchu budovy.
Chlapík ve žlutém triku a světle hnědých volných kalhotách hraje golf, zatímco dav se dívá.
Mladá dívka v dresu na karate držící velkou trofej.
Dítě s nafukovacími rukávky, které skáče do jezera.
Žena v růžovém krájí hamburger obracečkou.
Chlapec ve špinavém triku jde vodou oceánu, která sahá ke kolenům.
Muž stojící vedle zad nahé sochy.
Malé batole oblečené v bílé se směje, zatímco dáma mu pomáhá mávat vlajkou.
Osoba stojí na stavbě na jezeře.
Mladý muž v šedé bundě stojí za pultem v klenotnictví a směje se.
Lidé chodící nahoru a dolu po schodech do kostela.
Hodně dětí se baví na pobřeží ve městě.
Žena cvičí blízko kraje oceánu.
Dva muži pracují na tesařském projektu s ručními nástroji.
Žena a dvě dívky oblečené do růžové.
Muž v černém obleku s kufříkem, který někam spěchá, zatímco mluví do mobilního telefonu.
Hnědovlasá žena, která jde po ulici s kelímkem.
Holohlavý malý chlapec drží kuře, zatímco v pozadí sedí dva muži.
Muž, který sedí na zdi a dívá se na hladinu vody.
Dva psi běží vodou s provazem ve svých tlamách.
Chlapec se prochází u rybníka v parku.
Světlovlasé dítě s velkým černým kabátem, barevnou šálou a pletenou čepicí stojící před výlohou.
Hnědý pes s tenisovým míčem v puse, ve vodě a ve křoví.
Dva hnědý psi běží vodou.
Dívka, která vyfukuje bubliny v bazénu.
Hromada mořských řas je na písku, za ní běží ve vodě černý pes.
Malý kluk běží se sandály na nohou.
Hnědobílý pes stojí venku, když sněží.
Někdo pracuje na projektu používající vertikální pilku.
Ženský tým v roller derby má přestávku.
Chlapec skáče z jedné postele na druhou.
Muž ve žlutém tričku stojí mezi postelemi a chlapec za ním skáče na postel.
Mladý muž, který drží velkou motorovou pilu.
Muž na motorce bez košile a další muž, který stojí ve stínu.
Tři lidé vstupují do budovy s ručně napsaným nápisem "Vítejte motorkáři."
Muž staví zeď.
Žena s hnědými vlasy se dívá na dítě, které něco jí.
Řada lidí, někteří stojí, někteří sedí, kteří čekají na na nástupišti na vlak.
Dva lyžaři stojí, dva sedí na svahu.
Lidé se procházejí v obchodním domě s barevnými dekoracemi, které visí ze stropu.
Kovářka okovává koně.
Dítě v zeleném jednodílném úboru jde okolo výlohy prodejny.
Skupina dívek povzbuzuje.
Muž, který je uvnitř nákladního auta se dívá ven s levou paží na dveřích.
Dítě vystupující z auta, které má kopačky.
Bílý, mladý muž s dredy a zeleným kiltem sedí na pohovce a usmívá se.
Muž v modrém triku líbá ženu s blonďatými vlasy na tvář.
Muž a žena pózují před fotoaparátem a vypadají společně velmi šťastně.
Dvě děti si hrají na cestě v parku.
Velmi barevný autobus je zastaven na kraji silnice, protože cestující nastupují.
Usmívající se žena drží osobu oblečenou v kostýmu prasete.
Žena, která nosí modrou helmu, jede na svém kole na parkovišti.
Malá dívka, která má na sobě zelené šaty, stojí před kaluží.
Muž, který má helmu jede na kole po ulici.
Mladý chlapec a starší muž, kteří čekají u kasy.
Dva lidé stojí a společně se dívají přes kaňon.
Dáma s helmou držící kolo.
Mladý muž, který stojí před červeným nákladním autem, drží fotoaparát a fotí.
Osoba v modrých trenýrkách a nosí walkman na běhání.
Muž a žena si hrají na stromě, zatímco ostatní se dívají.
Skupina mladých lidí je v garáži.
Tři muži se dívají na znamení na kříži v kaňonu.
Mladá dáma sedí před plotem s kbelíkem.
Žena se snaží schovat práci pod černou mikinou, ale její červené manšestrové kalhoty jí prozradily.
Mladý muž čistící kartáčem sochu.
Dva mladí muži svírající hadry ve svých rukou, zatímco starší muž jim povídá jak umýt velký kříž.
Žena sedí na mužových ramenech a používá těžký kartáč jako kladivo.
Skupina tvořící dřevěný kříž blízko velkého balvanu.
Malý chlapec zvedá malířský štětec a usmívá se.
Čtyři muži v bílých tričkách a baseballových čepicích sedí kolo stolu.
chlapec, který se dívá na nasekanou kládu.
Šedovlasý muž, který vypráví příběh skupině mladých lidí na lavičce.
Dva lidé držící nějaké knihy stojí na poli.
Osoba, která dělá otočku na skateboardu vedle odpadkového koše.
Muž, který stojí na železniční trati se dívá dalekohledem na řeku.
Mnozí lidé sedící na zemi blízko slámové chýše.
Dítě možná hraje fotbal, zatímco je v obleku.
Lidé na kolech čekající na křižovatce.
Stavební dělník staví lešení pro svou práci.
Malé dítě oblečené do zelené a žluté, které má bryndák, pláče.
Muž bez košile, který vede koně, který táhne kočár.
Muž stojící venku bez košile, který se dívá nahoru na budovu.
Mladá dívka se houpe vysoko nad zem v hezký letní den.
Mladý muž dělá skateboardové triky z betonové levičky.
Muž drží síť pro chlapce, který hraje baseball.
Starší muž se krčí, aby zvedl kryt z grilu, kde se griluje několik špízů.
Muž, který má černé triko a ochranné brýle běží podél ulice.
Pět osob chirurgického týmu se chystá provést operaci v nemocnici.
Chlapec stojící na pláži, který drží modrý kyblíček a zelenou lopatu.
Malá dívka se točí ve vlnách v jasném slunci.
Tři lidé sedí venku na malém kameni před velkým keřem, mají na sobě dlouhé kalhoty.
Muž s vidlemi stojí blízko kbelíku větví naproti bytovému komplexu.
Správce sebral vědro plné větví.
Černo-bílý pes dívající se do fotoaparátu s ohnutým mužem v pozadí.
Muž, který má kšandy stojí na vlaku.
Dva muži a dvě ženy připravují v kuchyni velké množství jídla.
Dívka, která se učí o zvířatech v zoo.
Skupina kamarádů rybaří z nakládací rampy.
Matka a syn čtou společně knihu o dinosaurech.
Dvě ženy, které sedí u stolu se zeleným brčkem ve skleničce.
Malý chlapec v kalhotách s laclem, který brečí.
Tři muži připravují sáně na zasněžené pláni.
Osoba sedí za dvěma velkými košíky s chlebem.
Muž v uniformě pilota jde po chodníku a nese zavazadla.
Lidé procházející se podél řeky blízko krásné usedlosti.
Plavkyně, která má plavací čepici a svorku na nose, se pohybuje pomalu vodou a je vidět zespoda.
Čtyři muži sedí a pracují na svých noteboocích.
Muž v baseballové čepici čistí modře zbarvenou jámu, kde barevná vánoční světla visí nad ním.
Dívka, která spí s panenkou miminkem a nosí kostým princezny
Žena umývá venku svého středně velkého psa v plastové nádobě, zatímco přítel ho jistí vodítkem.
Dítě, které skáče do jezírka.
Dítě v černé bundě, červených kalhotách a flísové čepici spí na červené bundě.
Starý muž v hnědém klobouku sedí na lavičce.
Tři děti na trávě, jedno z nich hledající jídlo v kabelce své matky.
Černý muž obsluhuje oranžový jeřáb.
Tři dívky jdou pod pergolou na cestě obklopené stromy.
Pláž je plná lidí.
Lidé se shromažďují okolo a chodí si kupovat vystavené oblečení a další předměty.
Muž, který pádluje s člunem na řece blízko břehu.
Dvě ženy stojí společně a drží hrnec a pánev s jídlem.
Mladá dívka, která nosí žluté žabky, sedí na velkým balvanu.
Světlovlasá žena řídící červenou drožku, drží koneček prstu na své čepici a pózuje před fotoaparátem se zákazníkem sedícím vzadu.
Mladý chlapec s květované zástěře pomáhá své matce vařit.
Mladý muž se ukazuje jiné ženě s dortem se třemi svíčkami na vrchu.
Žena s kloboukem prodává nějaké ovoce a kořenové plodiny.
Osoba, která je oblečená do bundy s kapucí, sedí na sněhu před žlutým stanem.
Dva psi bojují na travnatém poli.
Muž v bezpečnostní vestě klečí a pracuje na vlaku.
Pět stavebních dělníků kope díru na zasazení stromu.
Muž v červeném triku dává hračky malému psovi.
Stará dáma sedící v pokoji plném květin.
5 sportovců, kteří nosí bílý vršky a bílý spodky, cvičí sestavu pro publikum.
Stavební dělníci, kteří stojí venku a dívají se na dráty nad nimi.
Šťastný malý chlapec sedí na židli s velkou panenkou Elmo.
Dítě kartáčuje vlasy kojenci.
Mladý muž se chlubí tím, že předvádí karate překvapené dívce.
Muž, který jí v neuklizené kuchyni.
Dospívající chlapec má stříbrný kroužek, který vyčnívá z jeho nosu.
Tento muž se široce usmívá do fotoaparátu.
Skupina mladých lidí si hrají ve fontáně.
Žena házející létající talíř na pláži.
Tmavě hnědý pes si hraje se světle hnědým psem.
Chlapík v ochranném obleku svařuje ocelový nosník.
Muž v oranžových šortkách staví pískový hrad, který kombinuje více obrazů do jednoho výsledného kde jsou čtyři jeho kopie.
Dva muži a pes stojí mezi zvlněnými zelenými kopci.
Skupina lidí jde po ulici před budovou AMC.
Bílý muž nosící brýle vyfukuje bublinu v domě.
Dospělý ukazuje dítěti šermířský oblek, který je připevněný na stromě.
Velký pes chytá míč na svůj nos.
Muž a dvě ženy, kteří nosí všichni černou předvádějí scénku před budovou se schody.
Dvě děti nosící džíny stříkají na sebe vodu.
Světle hnědě zbarvený pes skáče do venkovního bazénu.
Lidé sedí v kruhu s knihou uprostřed.
Pár, muž a žena, s malou holčičkou, kteří jsou všichni oblečení v svatební oblečení, zatímco stojí podél pobřeží.
Mnoho lidí, kteří chodí pod markýzou z růžových a bílých balónků.
Řada šesti dětí v plavkách se připravují na skok do plaveckého bazénu.
Dva zaměstnanci pekárny, kteří nosí červené zástěry, připravují jídlo.
Malé dítě s červenou čepicí a kachna jsou na trávě.
Rodiče tlačí malé děti v červených autíčkách.
Jeden muž v modrém triku obsluhuje hadici na vodu a další muž v hnědém triku přemisťuje nepromokavé plachty.
Tři chlapci, kteří nosí kšiltovky Florida Merlins.
Rodina, která se vrací z nakupování a pán který si čte noviny na straně ulice.
Dvě ženy, které se drží za ruce ve vzduchu, zatímco skáčou.
Žena nese dítě na ruce a další drží za ruku, zatímco jdou venku vedle budovy.
Pes jde polem.
Rušná ulice s mnoha lidmi stojícími a mluvícími okolo a dva drží kola.
Žena tmavé pleti pouští bowlingovou kouli na dráhu.
Fotbalista v červeném dresu jde po míči a odráží hráče v bílém.
Skupina lidí jde po stezce v lese.
Tři děti si hrají s červeným míčem v parku.
Malý chlapec, který nakopává gumový míč.
Tato fotka muže, který si čte, je nakloněná.
Muž na žebříku, který má modrou bundu a modré džíny.
Tři silničáři v oranžových bundách a kalhotách uklízejí s kolečkem.
Muž na chůdách stojí před řadou bubeníků.
Mladý muž, pravděpodobně v jeho časných dvaceti, ukazuje s pýchou svou kuchařskou dovednost.
Pes teriér si hraje s hračkou na dece.
Pes, který běží přes travnaté pole s klackem ve své hubě.
Chlapec s brýlemi v kostkované košili si čte knihu.
Mladý muž se dívá do knihy na zemi v lesnaté oblasti.
Dva muž stojí ve frontě v restauraci.
Několik dětí sedí na karnevalové atrakci před tváří klauna a několika falešnýma balónky.
Žena se špinavě blonďatými vlasy a brýlemi něco stříhá.
Muž v baseballové čepici a v modrém triku jede na bílém koni dolů špinavou cestou přes bujnou a zelenou přírodou.
Žena středního věku, která vaří, zatímco její pes se dívá.
Zrzavá žena s culíky a brýlemi, která šije na šicím stroji.
Dva muži, kteří se v místnosti dívají na obrazovku počítače.
Šedý pes běží podél okraje bazénu, zatímco žlutý pes skáče do bazénu.
Dítě se klouže na saních dolů z kopce.
Muž a žena se zaklesnutýma rukama (nosící drahé oblečení) vedle skleněné výstavky (možná maloobchod) na chodníku v městském prostředí.
Dva dělníci se lopotí v tavící továrně.
Žena sedí na tranzitní stanici vedle podsvícené reklamy.
Lidé, kteří čekají před budovou vedle nástěnné malby.
Tři lidé tlačí kus velkého stroje ulicí.
Muž, který má triko bez rukávů a helmu na stavbu.
Muž s plnovousem a čepicí prosí lidi o peníze.
Dívka na jednokolce se natahuje po dítěti na koloběžce.
Lyžaři zachyceni na svahu s prašanem tak, že skoro spadnou dolů a zlomí si nohy.
Muž, který má plastový bryndák s krabem, drží nahoře dřevěné kladivo.
Muž skáče z malého kamenného mostu, zatímco na něj dívají tři děti a žena.
Osoba, která sedí na betonové podestě vedle vodní plochy.
Muž hraje na kytaru zatímco pár poslouchá a dívá se na jiného muže, který tančí na hudbu.
Nějací stavební dělníci mají přestávku.
Žena ve světle zeleném svetru si hraje s dračí loutkou na zahradě.
Velké množství lidí sedí opřeno o zdi budov.
Dítě, které drží zelené boty, se prochází v písku poblíž vody.
Svatební den s nevěstou ve světlých, bílých a krásných šatech.
Osoba, která má fialovou bundu, stojí za vysokým stromem.
Zákazníci čekají na obsluhu u okénka rychlého občerstvení.
Žena v květinové košili s kabelkou a muž v černé košili se prochází, zatímco jiný muž jde za nimi.
Pohled z ptačí perspektivy na muže vycházející venku schody.
Muži a ženy, kteří mají bílé plavecké čepice se navzájem nesou na zádech.
Rodina sedí venku v parku a užívá si sebe samu.
Hnědovlasá žena sedí na modré skládací židli a čte si na pláži.
Cestující spěchají do zpozděného vlaku.
Miminko a malé dítě společně sedí na vysoké židli.
Skupina věřících se modlí ve veřejném parku.
Muž sedí před počítačovým monitorem, drží klávesy a dívá se do fotoaparátu.
Dítě leží na dřevěné lavičce.
Muž v červené košili, bílých kalhotách a s kšiltem, který je obklopen diváky, mává golfovou holí.
Dva muži o něčem diskutují blízko zdi s graffiti.
Nějací lidé s černými nebo černo-červenými pásky, předvádí bojové umění na zelené podložce.
Studentka bojových umění se předvádí se zbraní, zatímco ostatní se dívají.
Několik mladých dospělých, kteří vystupují v bojovém uměleckém oblečení.
Mladá žena sedí u prodejního stánku s označením zmrzlin a programů.
Chlapec pózuje pro fotku a v pozadí je muž visící na laně.
Dva lidé sedí zády směrem k cukrové vatě.
Dívka ve žlutých šatech se sluncem svítícím na její tvář.
Osm mužů pracuje s kameny a dlaždičkami.
Dvě ženy, které jsou oblečené v jasně barevných šatech, sedí vedle špinavé cesty a povídají si, zatímco sledují pole.
Dva muži v černém, kteří jí sendvič.
Detail muže v baru, který drží své brýle šikmo před obličejem.
Chlapec sedí na obdélníkovém bloku.
Dítě si hraje na ulici a dělá hvězdu.
Muž sedí za dřevěnou přepážkou.
Muž v černé bundě fotí muže v červené bundě.
Muž v žluté kombinéze, který vesluje ve člunu s ptákem vpředu.
Muž s kloboukem žongluje se čtyřmi míčky.
Osoba v černém klobouku drží různobarevné žonglérské kuželky.
Pět lidí sedí venku okolo stolu a hrají karty
Rodina sedící na lavičce blízko pláže.
Muž a žena mohou společně připravovat jídlo v táboře.
Čtyři turisté stoupají po štěrkové cestě.
Dva afroameričané hrají na své trumpety v hlavním městě s dívajícími se diváky.
Lidé v dálce se snaží vylézt útes.
Dva policejní úředníci se dívají dalekohledem z dálky na dům.
Skupina dětí v hnědých oděvech vystupují.
Dva mladí turisté, kteří používají mapu a kompas k nalezení směru v lese.
Dva muži na kraji nákladního říčního člunu.
Tři děti, miminko ve středu, sedí na venkovní houpací židli.
Dítě stojí připraveno s baseballovou rukavicí.
Dvě holky stojí na trávě naproti sobě.
Skupina lidí, která se prochází po těžkém sněhu.
Dva dělníci, kteří pracují na kraji ulice v neonově žlutých vestách.
Městští pracovníci, kteří opravují beton na silnici.
Stavební personál, který pracuje na několika místech na silnici.
Muž se zrzavými vlasy pracující na svém kole.
Žena sedící na lavičce před velkým obrazem.
Mladý chlapec si hraje na houpačce.
Dva muži v lese, kteří používají řetězovou pilu k řezání nějakých stromů.
Stavební dělníci pracují na silnici v noci.
Muž oblečený v černé bundě hraje na kytaru.
Skupina lidí stojí nebo sedí zvenku kavárny.
Muž s kytarou sedí venku na lavičce s třemi dalšími lidmi, kteří sedí u něj.
Muž a žena rybaří ze člunu.
Mladé dítě drží lžíci u svých úst, zatímco sedí na židli.
Muž ve světle hnědé rybářské čepici dává balzám na rty ženě ve člunu.
Muž nastavuje otočné knoflíky na velkém mixážním pultu.
Černovlasá žena v pruhované košili stojí čelem k nějakým stánkům.
Černý a hnědý pes hrající si ve vysokém plevelu.
Muž v červeno-bílé kostkované košili si hraje v parku.
Dva muži provádí měření zdi na otevřeném staveništi.
Muž v bílém triku hraje tenis.
Hnědý pes skáče do vzduchu na hnědé pláni.
Mladá žena stojí na okenní římse cihlového domu zatímco se dívá dítě.
Dvě dospívající dívky, jedna nosící bílý dres a druhá nosící červený dres, hrají fotbal.
Mladé dítě cucající dudlík a spící na židli.
Muž, který táhne ozdobnou rikšu podél plavebního kanálu, se usmívá a dává znamení palce nahoru.
blízký záběr na dítě na dětském hřišti s dospělým dohledem.
Muž v červeném triku tlačí mladšího muže v bílém triku k modré vycpané podložce.
Tito muži praktikují bojové umění.
Ženy a muži v jiné zemi vypadající jako by tleskali.
Žena nakupuje na farmářském trhu.
Lidé jdou okolo a promíchávají se ve velkém otevřeném prostoru se psem.
Dvě ženy pózují v kloboucích s květinami.
Malá dívka jede na hnědém koni.
Dospívající chlapec mluví ke skupině dospívajících dívek.
Muž sedí u venkovního baru blízko mnoha plechovek od sody a piva.
Tři lidé stojí venku kolem dvou grilů, kde se peče maso.
Asijská rodina si dělá piknik na pláži zatímco ostatní si hrají ve vodě.
Dva muži ve vysokých kloboucích se mračí do fotoaparátu.
Tři lidé sedí na dřevěných lavičkách umístěných na bílých a oranžových kachličkách.
Muž má na sobě bílé tričko a sluneční brýle.
Skupina tří jedinců pracuje v nepořádném kancelářském prostředí.
Chlapec v neoprenu skáče do bazénu s plešatým mužem.
Chlapec skáče šipku ze skákacího prkna do plaveckého bazénu.
Dva záchranáři jsou na místě incidentu.
Muž vyrábějící hliněný předmět na hrnčířském kruhu.
Lidé grilují na pláži.
Žena drží malou dívku, která se snaží chytit bubliny.
Dva muži se poflakují a grilují.
Žena, která hraje na kytaru před skupinou lidí, kteří stojí venku.
Dva psi si společně hrají na zelené trávě.
Umělkyně nahlíží do plánu na svou část komplikované křídové kresby na chodníku.
Muž v práci, porážející krávu.
Muž s velkým perem na klobouku jede na koni.
Dvě osoby nesou velkou nafukovací láhev kolem mladé ženy a zaparkovaného bílého auta.
Tyto dívky jsou v uniformách a hrají pozemní hokej.
bílý a světlehnědý pes skáče vzduchem.
Žena uprostřed házení bowlingovou koulí v bowlingové dráze.
Jeden muž hraje na bicí, zatímco další zpívá karaoke.
Hnědý kůň stojí poblíž černého koně, který sedí na zemi.
Dítě, které si prohlíží pult v pouťovém stánku s různými hračkami.
Muž spí v houpací síti vedle vody a člunu.
Jedenáct malých dívek pózují jako tým v bazénu.
Muž v černém a šedém svetru sedí na stoličce před skupinou klecí.
Velmi neobvykle oblečený muž, který sedí hned vedle chladícího boxu na zmrzlinu.
Muž v hnědém triku sedí na chodníku a hraje na kytaru.
Malá dívka s korunkou, která jí na něčím klíně.
Černo-hnědý pes leží na bílém chundelatém koberci.
Tři dívky sedí na pláži.
Malý chlapec se dívá na svůj odraz na vyleštěné mramorové zdi.
Muži a ženy na motorkách zastavují, aby se na něco podívali.
Malá dívka v růžovém tancuje s rukama v bok.
Muž a žena se těší z cigarety venku před obchodem.
Asijské město v noci s velkým množstvím lidí, kteří se prochází okolo.
Žena v modré bundě se natahuje po dítěti.
Muž oblečený jako kuchař si užívá pokrm a lahev vína v prázdné restauraci.
Muž s knírem v bílém obleční pojídající steak.
Tři muži rychle pracují na přípravě jídla v kuchyni špičkové čínské restaurace.
Muž sedí na skále.
Mladá dívka ve žlutém tancuje na pódiu s baseballovým hřištěm v pozadí.
Děti si hrají v zalesněné krajině blízko vody.
Dívka v růžovém triku leží na zádech v trávě.
Pár drží cedulku, kde je napsáno Vyučování dětí pro mír.
Tři lidé nosící barevné kostýmy a masky, kteří sedí mezi dvěma kamennými sochami.
Muž na kole, který jede dolů po skalnatém kopci.
Tři mladé dívky tančí na pláži v písku.
Mladá dívka v modrých šatech šlapající přes fotbalový míč.
Vrčící hnědo-černý pes zahání hnědou kočku s dlouhými chlupy pod dřevěnou lavičku.
Mnoho lidí stojí a dívají se na něco.
Dva lidé sedí bosonozí ve stanu, jedna s pivem a jedna si hoví a hraje na kytaru.
Muž v šortkách seká dřevo zvenku týpí.
Jeden chlapec v pruhovaném triku a jedna dívka v zeleném triku jedou na kolech s pomocnými kolečky.
Dospělý a dítě sedící na policejní motorce.
Muž bez trička a v klobouku používá kladivo a kovadlinu.
Žena v černém hraje na nástroj typu violoncella.
Dva muži v dřevěném člunu, jeden je oblečen ve žlutém a druhý v černém, cestující na hladké vodě.
Mladý muž se zrzavými vlasy hraje kulečník.
Muž v červeném obleku jede na červené motorce do kopce na motokrosovém okruhu.
Žena, která dává blonďatému batoleti napít z kelímku.
Šest žen sedí společně u stolu před knihovnou.
Lidé prochází u vystaveného spodního prádla, které visí ve stánku.
Dva cyklisté pózují u potoka kvůli fotce.
Dvě děti stojí na zeleném kovovém plotě.
Mladý chlapec se skloněnou hlavou, který má na sobě černo-bílé triko.
Terénní auto právě narazilo do zadní části dalšího terénního auta.
Dva zaměstnanci restaurace vyměňují talíře s jídlem pod neonovou cedulí Mongolian BBQ.
Dva chlapci, kteří si hrají ve vodě, nosí šortky.
Zelený John Deere traktor táhne červený přívěs v poli.
Dvě děti si hrají na provizorní houpačce z barelu.
Různí lidé se poflakují (nebo dělají výtržnosti) na ulici, kde je vidět mnoho kol.
Dva lidé skáčou na pláži.
Skupina mužů v pracovním oblečení dostává instrukce k pracovnímu úkolu.
Tři psi křižují ulici.
Dáma v červeném autě přejíždí most.
Dívka s černou kabelkou sedící na dřevěné lavičce.
Muž v kostkované košili, který připojuje svůj černý laptop k mikroskopu.
Muž maluje na chodníku ve městě.
Dívka v bílém tílku sedí na lavičce v parku se psem vedle ní.
Muž, který jede na kole v zeleném trikotu, drží v ruce nápoj.
Muž hraje na malý, jako kytara vypadající, nástroj a zpívá do mikrofonu.
Žena v šortkách má ruku umístěnou na bílém autě.
Osoba stojí s jednou nohou podepřenou a s předmětem s modrou čárou v levé ruce.
Děti, které si hrají na dětském hřišti na hromadě pneumatik.
Muž v červeném oblečení do sněhu se dívá na plochu se sněhem a horami.
Muž, který je oblečený v bílém tílku, sedí mezi ovocem na nízkorozpočtovém trhu.
Chlapec v červené čepici a černém triku skejtuje blízko červeno-bílého pruhovaného obrubníku.
Malé dítě leze po stěně ve veškerém ochranném oděvu.
Asijská žena v bílém triku stojící mimo dav za ní.
Žena v metru usíná.
Sportovkyně si utahuje tkaničky na kopačkách na hřišti.
Muž ve žlutém tričku a zelených šortkách skáče v obývacím pokoji.
Mladá dívka míchá hrnec lžící v kuchyni, zatímco má na sobě velkou černou deku.
Několik cestujících buď stojí nebo sedí v něčem, co vypadá jako vagón metra.
Chlapec, který zažívá a projevuje se v muzeu.
Gymnasta skáče přes naskládané dřevěné plošiny.
Pes klusá přes půdu s velkým klackem v hubě.
Muž který má ochranné brýle předvádí vědecký experiment, zatímco se žena dívá.
Vysoká muž, který míchá hrnec jídla na sporáku.
Žena je vyslýchána u svého jídelního stolu.
Žena s dlouhými hnědými vlasy a béžovou mikinou s kapucí stojí blízko skříněk.
Muž s rukavicemi pracuje v laboratoři.
Chlapec, který leží na trávě tváří dolů s fotbalovým míčem u nohou.
Žena si upravuje svou ponožku v zaneřáděném parku.
Chlapec a jeho rodina oslavující jeho narozeniny s jasně osvětleným dortem.
Muž, který řídí zelený miniaturní vlak.
Muž v bílém tričku se směje jakoby se na něco díval.
Muž nalévá pití na stole.
Dva psi klušou prázdnou veřejnou oblastí.
Dívka v zeleném triku skáče do vzduchu.
Okolo 12 dětí a několik dospělých je postříkáno zdrojem mimo fotoaparát.
Starý muž v tradičním kostýmu vypadá, že je v radostné náladě.
Žena s blonďatými vlasy krájí meloun na mramorové kuchyňské desce.
Lidé stojí na nástupišti, aby nastoupili do vlaku.
Malý chlapec v modré baseballové čepici sedí na molu a vyhlíží na vodu.
Skupina lidí pozoruje ryby ve velké nádrži.
Čtyři lidé jdou přes tlustou vrstvu sněhu během západu slunce.
Číšník představuje objednávku kuchyňskému personálu.
Žena v modrozeleném triku a béžovém kardiganu se dívá od deskové hry, před kterou sedí.
Lidé čekají ve frontě na svůj oblíbený nápoj.
Vojenský nebo policejní důstojník stojí nablízku zatímco se lidé prochází na veřejném náměstí.
Žena v červených šatech zakrývá oči jiné ženě.
Žena, která čte noviny a muž v zelené bundě jedou ve vlaku.
Muž, který stojí a povzbuzuje mezi ostatními sedícími na stadiónu.
Muž bez košile jde po vrcholu mnoha kamenů.
Chlapec v červeném svetru, který běží po pláži.
Pár, který se prochází na shromáždění s balónem ve vzduchu za nimi.
Muž v černém klobouku jde po ulici.
Muž stojí na ulici a drží ceduli.
Muž na pláži hledá věci s detektorem kovu.
Mladý chlapec, který má modré triko drží zvláštně vypadající předmět aby si ho prohlédnul, zatímco stojí mezi stromy.
Dvě mladé děti stojí na chodbě.
Vodní lyžař dělá salto za lodí.
Malý chlapec sedí na lavičce vedle velkého maskota želatinové fazole.
Dva lidé jedou na wakeboardu ve vodě a jsou taženi člunem.
Muž před listovím sype koření na své maso na grilu.
Chlapec s tmavou kůží, stojící na hlavě s roztaženýma nohama, na konci plujícího dřevěného člunu.
Dva muži hrají hudbu na pláži.
Dvě ženy v barevných kostýmech se dívají na malou dívku, která má na sobě hnědou vestu.
Nějaké děti, které sledují ryby v bazénu.
Rýpadlo je na vrcholu hromady sutin ze zbořené budovy.
Tři chlapci si hrají s pálkami na pláži.
Žena ve světle modré bundě jede na kole.
Někdo je na vyjížďce na svém kole.
Dva lidé v helmách jedou na kole před budovou.
Dva cyklisté vedle nějakých kolejí.
Pár si užívá krásný den jízdou na kole na cyklostezce, mají na sobě cyklistické helmy a rukavice.
Ženy v cyklistických helmách mají přestávku od dlouhé jízdy,.
Muž, který má černou helmu, modrou bundu a khaki košile jede na kole ulicí vedle červeného auta.
Dítě se chystá jet na kole s rodiči
Dva malí chlapci se dívají dozadu, zatímco jdou přes travnatou oblast.
Dítě na malé motorce blízko malého rybníku.
Dvě malé blonďaté dívky v helmách sedí na červené čtyřkolce.
Chlapec v bílém hraje baseball.
Mladý chlapec s vyplazeným jazykem leze na dřevěný stupínek.
Žena stojící za pultem v prodejním okýnku.
Pes, který nosí zelený postroj, stojí ve sněhu.
Žena stojí vedle japonské verze Disneyho Sněhurky.
Žena si objednává jídlo v pouličním kuchyňském stánku.
Psi, kteří táhnou sáňky při sáňkařském závodě.
Osamělý hudebník v černém na pódiu, který hraje na akustickou kytaru a zpívá do mikrofonu.
Malý chlapec v plavkách sedí ve vodě.
Žena v džínách jde po cestě se zeleným zábradlím.
Žena v černém triku objímá muže.
Žena dřepící v trávě se usmívá na malého chlapce, protože se usmívá a zvedá své ruce do vzduchu.
Pes má na zádech červené pásy.
Černý a bílý pes stojí na sněhu.
Pes skáče ve vodě na pláži.
Hnědý, načechraný pes, který skáče do plaveckého bazénu po červené hračce.
Bílý pes, který skáče aby chytil červený míč.
Chlapec skáče v parku z jednoho stolu na druhý.
Dvou a čtyřnozí sousedé se zastavili na návštěvu.
Robustní pár spolupracuje před pruhovaným plážovým stanem na pláži, která je blízko mola.
Mladá dívka se snaží zahradničit.
Dáma, která drží žlutou tašku, sedí na židli v obchodě.
Žena, která se natahuje po světlech.
Tři mladé ženy tančí v přeplněné hale.
