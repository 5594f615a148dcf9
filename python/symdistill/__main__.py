from symdistill.cli import main

main()
