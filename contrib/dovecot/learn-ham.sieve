# IMAPSieve (contrib/dovecot/learn.conf): a message moved out of Junk.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

# Deleting junk is no statement that it was wanted.
if environment :matches "imap.mailbox" "Trash" {
  stop;
}
if environment :matches "imap.user" "*" {
  set "username" "${1}";
}
pipe :copy "postern-learn" ["ham", "${username}"];
