from pulsebox.cli import main

main()
