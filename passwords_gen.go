//go:build ignore

// passwords_gen writes passwords_common.txt, the common passwords a new
// password may not be (see password.go). Run it with go generate after
// changing a list below. The list is derived here, from the patterns that
// lead every published list of leaked passwords — a handful of words, the
// names of people, pets, teams and places, declarations of love, keyboard
// rows — and not downloaded: the build needs nothing from the network.
//
// password.go reads each entry the way it reads a password (case, spaces
// and separators, digits and symbols around the word, leetspeak and
// repetition do not count), so "password" here also refuses
// "P@ssw0rd2024!" and "passwordpassword".
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// words are the words people build passwords around, most common first.
var words = `
password passwd pass word secret letmein welcome hello login admin administrator root
qwerty qwertz azerty asdf zxcv master monkey dragon shadow sunshine princess iloveyou
trustno1 trustnoone whatever freedom football baseball basketball soccer hockey golf
tennis cricket rugby superman batman spiderman ironman starwars startrek pokemon pikachu
naruto matrix ninja samurai warrior knight wizard merlin gandalf hobbit frodo legolas
zelda mario sonic minecraft fortnite roblox gamer gaming player killer hunter ranger
sniper soldier marine army navy police security access default guest user test tester
testing temp temporary changeme change newpassword oldpassword mypassword yourpassword
nopassword forgot forgotten remember system server network internet computer laptop
desktop windows linux ubuntu debian apple macintosh microsoft google facebook twitter
instagram youtube amazon netflix spotify samsung nokia iphone android oracle cisco
database backup office company business work manager boss money dollar dollars euro
cash rich million billion lucky luck blessed blessing jesus christ jesuschrist god
heaven angel angels faith grace hope love lover loveme lovely loveyou mylove truelove
forever always together family friends friend bestfriend sexy hottie babygirl babyboy
baby babe honey sweetie sweetheart darling kiss kisses single happy happiness smile
rainbow butterfly flower flowers rose roses daisy lily tulip sunflower star stars
superstar rockstar music guitar piano drums dance dancer party beer vodka whiskey
tequila wine coffee tea pizza burger chicken cheese chocolate cookie cookies candy
sugar banana apple orange lemon cherry strawberry peaches pepper ginger cinnamon
tiger lion eagle falcon hawk wolf wolves bear bears shark sharks panther panthers
jaguar cobra viper python phoenix dragonfly thunder lightning storm hurricane tornado
fire ice snow snowball ocean river mountain sky moon sunset sunrise earth planet
galaxy universe cosmos magic mystic legend hero heroes champion champions winner
victory success power energy spirit soul freedom liberty justice peace harmony
summer winter spring autumn fall january february march april may june july august
september october november december monday tuesday wednesday thursday friday
saturday sunday weekend holiday christmas easter halloween valentine birthday
red blue green yellow purple pink black white silver gold golden diamond crystal
pearl ruby emerald sapphire mustang corvette camaro ferrari porsche mercedes bmw
audi toyota honda nissan ford chevy harley yamaha ducati kawasaki suzuki
dog doggy puppy cat kitty kitten pussycat bunny rabbit horse pony duck monkey
snoopy garfield tigger pooh winnie mickey minnie disney barbie elmo scooby
buster buddy bailey maggie max charlie rocky lucky molly bella daisy sadie coco
shadow smokey oreo simba nala pepper milo teddy toby zeus duke bandit lady
junior senior daddy mommy mother father brother sister grandma grandpa
cowboy cowboys yankees redsox lakers celtics bulls knicks giants jets patriots
steelers packers eagles broncos raiders dolphins chargers chiefs ravens bengals
liverpool arsenal chelsea everton tottenham barcelona madrid realmadrid juventus
milan inter bayern united manchester manutd city rangers celtic ajax porto benfica
america usa canada england london paris berlin rome madrid tokyo beijing shanghai
sydney toronto chicago boston texas california florida newyork nyc vegas miami
china india japan korea germany france italy spain russia brazil mexico africa
australia ireland scotland wales holland sweden norway poland ukraine
qazwsx wsxedc edcrfv zaq1xsw2 1qaz2wsx 1q2w3e4r 1q2w3e4r5t 1q2w3e q1w2e3r4 a1b2c3
abc abcd abcdef abcabc aaa aaaa xxx zzz asdfgh asdfghjkl qwertyuiop zxcvbnm poiuytrewq
mnbvcxz lkjhgfdsa qweasd qweasdzxc asdzxc zaqxsw qwe123 asd123 zxc123
iloveu iloveyoutoo iloveyouforever iloveyousomuch iloveme imissyou youandme
letmeinnow openup opensesame sesame hellothere helloworld hellokitty goodbye
goodmorning goodnight whatsup howareyou thankyou please sorry nothing everything
something anything somebody nobody everybody myself yourself computer1 internet1
correcthorsebatterystaple correcthorse batterystaple horsebatterystaple
thequickbrownfox quickbrownfox jumpsoverthelazydog lazydog
keel keelhq keelconsole console keeldemo demo demopassword example sample
sales finance leadership csm customer support service services marketing
`

// names are first names, the other root of most passwords.
var names = `
james john robert michael william david richard joseph thomas charles christopher
daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian
george timothy ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan
stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick
raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter
kyle ethan walter noah jeremy christian keith roger terry gerald harold sean austin
carl arthur lawrence dylan jesse jordan bryan billy joe bruce gabriel logan albert
willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby mason
philip louis harry oliver jake connor liam lucas leo alex sam ben tom tim nick mike
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy
betty margaret sandra ashley kimberly emily donna michelle carol amanda dorothy
melissa deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley
anna brenda pamela emma nicole helen samantha katherine christine debra rachel
carolyn janet catherine maria heather diane ruth julie olivia joyce virginia
victoria kelly lauren christina joan evelyn judith megan andrea cheryl hannah
jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail
alice judy sophia grace denise amber doris marilyn danielle beverly isabella theresa
diana natalie brittany charlotte marie kayla alexis lori jasmine chloe zoe lily
ella mia ava emma sophie lucy kate katie jenny jen molly ellie ruby daisy
mohammed muhammad ahmed ali omar fatima aisha wei li wang zhang liu chen yang
huang zhao wu zhou xu sun ma zhu hu guo lin he gao luo hiroshi yuki kenji sakura
raj priya amit rahul anjali sanjay carlos luis miguel javier pedro diego pablo
juan jorge manuel sofia lucia valentina camila isabel carmen rosa elena paula
pierre jean marie nicolas francois hans klaus stefan anna sven lars ivan olga
natasha dmitri sergei igor
`

// walks are keyboard rows and number patterns a password is typed along.
var walks = []string{
	"1234567890", "0987654321", "123456789", "12345678", "1234567", "123456", "123123", "112233",
	"111111", "121212", "123321", "654321", "159753", "147258369", "789456123", "741852963",
	"qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertyuiopasdfghjkl", "qwertyuiopasdfghjklzxcvbnm",
	"1qaz2wsx3edc", "1qaz2wsx3edc4rfv", "zaq12wsx", "zaq12wsxcde3", "1q2w3e4r5t6y", "1q2w3e4r5t6y7u8i",
	"q1w2e3r4t5y6", "qwerty123456", "123456qwerty", "qwe123qwe123", "asdasdasdasd", "qweqweqweqwe",
	"abcdefghijkl", "abcdefghijklmnop", "abcdefghijklmnopqrstuvwxyz", "abc123abc123", "abcd1234abcd",
}

func main() {
	set := map[string]bool{}
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			set[s] = true
		}
	}
	ws, ns := strings.Fields(words), strings.Fields(names)
	for _, w := range append(append([]string{}, ws...), ns...) {
		add(w)
	}
	for _, w := range walks {
		add(w)
	}
	// What people love, miss and own, and the two words they put together.
	for _, x := range append(append([]string{}, ns...), ws[:200]...) {
		for _, p := range []string{"ilove", "iloveyou", "imiss", "my", "love"} {
			add(p + x)
		}
	}
	for _, x := range []string{"dog", "cat", "baby", "babe", "life", "family", "wife", "husband", "kids", "son", "daughter",
		"mom", "mum", "dad", "car", "house", "home", "job", "money", "god", "jesus", "music", "world", "country", "team"} {
		add("my" + x)
		add("ilovemy" + x)
		add("i love my " + x)
	}
	for _, a := range []string{"super", "big", "little", "baby", "sexy", "hot", "cool", "crazy", "bad", "dark", "black", "red", "blue", "golden", "silver"} {
		for _, b := range ws[:120] {
			add(a + b)
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	var b strings.Builder
	b.WriteString("# Common passwords, one a line, written by passwords_gen.go (go generate): see password.go.\n")
	for _, s := range out {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	if err := os.WriteFile("passwords_common.txt", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("passwords_common.txt: %d entries\n", len(out))
}
