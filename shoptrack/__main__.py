from shoptrack.command import main

main()
